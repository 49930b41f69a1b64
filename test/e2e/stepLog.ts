/** The e2e run's output: each step named and timed, each check printed `ok: ...` or thrown. */

/** Every step's wall time, in order, for the summary at the end. */
export const timings: Array<[string, number]> = [];

export async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  console.log(`\n== ${name}`);
  const t = Date.now();
  const result = await fn();
  const seconds = (Date.now() - t) / 1000;
  timings.push([name, seconds]);
  console.log(`   (${seconds.toFixed(1)} s)`);
  return result;
}

export function ok(what: string): void {
  console.log(`   ok: ${what}`);
}

/** The first failed check stops the run. */
export function check(condition: boolean, what: string, detail?: unknown): void {
  if (!condition) throw new Error(`check failed: ${what}${detail === undefined ? '' : `\n${typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)}`}`);
  ok(what);
}
