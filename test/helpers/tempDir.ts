/** Real temp folders, removed after the test file finishes. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const created: string[] = [];
let hooked = false;

export async function makeTempDir(params: { prefix?: string } = {}): Promise<string> {
  if (!hooked) {
    hooked = true;
    afterAll(async () => {
      await Promise.all(created.map((dir) => rm(dir, { recursive: true, force: true })));
    });
  }
  const dir = await mkdtemp(join(tmpdir(), params.prefix ?? 'hubcache-test-'));
  created.push(dir);
  return dir;
}
