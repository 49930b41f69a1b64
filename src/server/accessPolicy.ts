/**
 * Who may read what through the mirror. The mirror never serves a private or gated repo's
 * cached content to a client it has not authorised:
 * - With client tokens (`--token-file`): every request must carry one of them; the operator
 *   vouches for those clients, and the mirror fetches upstream with its own token.
 * - Without: a client's own token (or none) is what the mirror shows upstream. What upstream
 *   allowed for (repo, token, scope) is remembered for `ttlMs`; a cached answer is served only
 *   inside that window, otherwise the request goes upstream again and upstream decides.
 *   Anonymous permissions (public repos) are also kept on disk, so an offline mirror still
 *   serves public repos it has seen; nothing else is served when upstream cannot be asked.
 * Scopes differ because gated repos show metadata to everyone but files only to granted users.
 * Tokens are kept only as a hash, never logged.
 */
import { createHash } from 'node:crypto';

export type AccessScope = 'file' | 'meta';

export interface AccessPolicyParams {
  /** Mirror-issued client tokens; undefined = pass clients' own tokens upstream. */
  clientTokens?: ReadonlySet<string> | undefined;
  /** The mirror's own upstream token (used only with client tokens). */
  upstreamToken?: string | undefined;
  ttlMs?: number;
  /** Repos known public, loaded from disk (`repoKey|scope`). */
  knownPublic?: Iterable<string>;
  /** Called when a repo is first seen public, to persist it. */
  onPublic?: (key: string) => void;
}

export type Admission =
  | { ok: true; upstreamToken: string | undefined; tokenKey: string; trusted: boolean }
  | { ok: false; status: 401; message: string };

export const DEFAULT_ACCESS_TTL_MS = 5 * 60_000;

export class AccessPolicy {
  private readonly allowed = new Map<string, number>();
  private readonly knownPublic: Set<string>;
  private readonly ttlMs: number;

  constructor(private readonly params: AccessPolicyParams) {
    this.ttlMs = params.ttlMs ?? DEFAULT_ACCESS_TTL_MS;
    this.knownPublic = new Set(params.knownPublic ?? []);
  }

  /** First gate: is this client allowed to use the mirror at all, and with which upstream token? */
  admit(params: { authorization: string | undefined }): Admission {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(params.authorization ?? '');
    const token = match?.[1];
    if (this.params.clientTokens) {
      if (token === undefined || !this.params.clientTokens.has(token)) {
        return { ok: false, status: 401, message: 'This mirror needs a client token (Authorization: Bearer <token> from its token file)' };
      }
      return { ok: true, upstreamToken: this.params.upstreamToken, tokenKey: 'mirror', trusted: true };
    }
    return { ok: true, upstreamToken: token, tokenKey: token === undefined ? 'anon' : tokenKeyOf(token), trusted: false };
  }

  /** May a cached answer for this repo be given to this client without asking upstream now? */
  mayServeCached(params: { repoKey: string; tokenKey: string; trusted: boolean; scope: AccessScope; offline: boolean }): boolean {
    if (params.trusted) return true;
    // What anyone may read (a public repo), this client may read too.
    for (const tokenKey of new Set([params.tokenKey, 'anon'])) {
      const until = this.allowed.get(this.key({ ...params, tokenKey }));
      if (until !== undefined && until > Date.now()) return true;
    }
    // A repo that was public stays served when upstream cannot be asked (last known answer).
    return params.offline && this.isKnownPublic(params);
  }

  /** Upstream just allowed this client this repo. */
  remember(params: { repoKey: string; tokenKey: string; trusted: boolean; scope: AccessScope }): void {
    if (params.trusted) return;
    this.allowed.set(this.key(params), Date.now() + this.ttlMs);
    if (params.tokenKey === 'anon') {
      const key = `${params.repoKey}|${params.scope}`;
      if (!this.knownPublic.has(key)) {
        this.knownPublic.add(key);
        this.params.onPublic?.(key);
      }
    }
  }

  /** Every `repoKey|scope` known public (to persist). */
  publicKeys(): string[] {
    return [...this.knownPublic];
  }

  private isKnownPublic(params: { repoKey: string; scope: AccessScope }): boolean {
    return this.knownPublic.has(`${params.repoKey}|${params.scope}`) || (params.scope === 'meta' && this.knownPublic.has(`${params.repoKey}|file`));
  }

  private key(params: { repoKey: string; tokenKey: string; scope: AccessScope }): string {
    return `${params.repoKey}|${params.tokenKey}|${params.scope}`;
  }
}

function tokenKeyOf(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 32);
}
