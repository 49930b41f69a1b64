/**
 * Branch -> commit answers seen upstream. A branch moves, so an answer is used for `ttlMs` only
 * (it pins the commit across a client's HEAD-then-GET chain and spares upstream a request per
 * file); past that it is asked again. The last answer of any age is what an offline mirror uses.
 */
export const DEFAULT_REF_TTL_MS = 30_000;

export class RefPins {
  private readonly pins = new Map<string, { commit: string; at: number }>();

  constructor(private readonly ttlMs: number = DEFAULT_REF_TTL_MS) {}

  get(params: { repoKey: string; revision: string; anyAge?: boolean }): string | undefined {
    const pin = this.pins.get(`${params.repoKey}|${params.revision}`);
    if (pin === undefined) return undefined;
    return params.anyAge || Date.now() - pin.at < this.ttlMs ? pin.commit : undefined;
  }

  /** A branch now known to be at `commit` (clients that resolved the branch first then ask by commit). */
  branchAt(params: { repoKey: string; commit: string }): string | undefined {
    const prefix = `${params.repoKey}|`;
    for (const [key, pin] of this.pins) {
      if (key.startsWith(prefix) && pin.commit === params.commit && Date.now() - pin.at < this.ttlMs) return key.slice(prefix.length);
    }
    return undefined;
  }

  set(params: { repoKey: string; revision: string; commit: string }): void {
    this.pins.set(`${params.repoKey}|${params.revision}`, { commit: params.commit, at: Date.now() });
  }
}
