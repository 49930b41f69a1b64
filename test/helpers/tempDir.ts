/** Real temp folders, removed after the test file finishes. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const created: string[] = [];

// Registered when a test file imports this module (collection time), so it belongs to the file's
// root suite. A hook registered from inside a running test is silently ignored by vitest, which
// left every temp folder behind (56 GB in /tmp after a day of runs). Ten minutes, not the default
// minute: removing the dashboard's 100k-file cache took longer than that at load average 20.
afterAll(async () => {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}, 600_000);

export async function makeTempDir(params: { prefix?: string } = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), params.prefix ?? 'hubcache-test-'));
  created.push(dir);
  return dir;
}
