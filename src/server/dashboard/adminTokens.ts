/**
 * Who may run the dashboard's actions: the tokens of `--admin-token-file`, one per line,
 * `label:token` (the label is who the action log names) or a bare token (logged as `admin #N`).
 * Tokens are compared as SHA-256 digests in constant time and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { HubcacheError } from '../../errors.js';

export interface AdminTokens {
  /** The label of the token a request carries (`Authorization: Bearer ...`), or undefined. */
  whoIs(authorization: string | undefined): string | undefined;
  readonly count: number;
}

export function parseAdminTokens(params: { text: string; source: string }): AdminTokens {
  const entries: Array<{ label: string; digest: Buffer }> = [];
  for (const raw of params.text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.lastIndexOf(':');
    const token = line.slice(colon + 1).trim();
    const label = colon > 0 ? line.slice(0, colon).trim() : `admin #${entries.length + 1}`;
    if (token.length < 8) {
      throw new HubcacheError({ code: 'E_USAGE', message: `${params.source}: an admin token must be at least 8 characters (line "${label}")` });
    }
    entries.push({ label, digest: digest(token) });
  }
  if (entries.length === 0) throw new HubcacheError({ code: 'E_USAGE', message: `${params.source} holds no admin token` });
  return {
    count: entries.length,
    whoIs(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (!match) return undefined;
      const given = digest(match[1] as string);
      // Every entry is compared, so the time taken does not tell which one (or whether any) matched.
      let who: string | undefined;
      for (const entry of entries) if (timingSafeEqual(entry.digest, given) && who === undefined) who = entry.label;
      return who;
    },
  };
}

export async function readAdminTokens(params: { path: string }): Promise<AdminTokens> {
  let text: string;
  try {
    text = await readFile(params.path, 'utf8');
  } catch (err) {
    throw new HubcacheError({ code: 'E_USAGE', message: `Cannot read --admin-token-file ${params.path}: ${(err as Error).message}`, cause: err });
  }
  return parseAdminTokens({ text, source: `--admin-token-file ${params.path}` });
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
