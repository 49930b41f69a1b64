import { describe, expect, it } from 'vitest';
import { scanReposInWorkers } from '../../src/cache/scanReposInWorkers.js';

const job = (name: string) => ({ repoPath: `/nonexistent/${name}`, folderName: name, repoType: 'model' as const, repoId: `org/${name}` });

describe('scanReposInWorkers', () => {
  it('rejects when a worker exits without posting its result, instead of hanging', async () => {
    const scan = scanReposInWorkers({
      jobs: [job('models--org--a'), job('models--org--b')],
      threads: 2,
      summary: true,
      workerUrl: new URL('./fixtures/dyingScanWorker.mjs', import.meta.url),
    });
    // Without an 'exit' handler this promise never settles; the race turns that into a failure.
    const hang = new Promise<string>((resolve) => setTimeout(() => resolve('still pending after 10 s'), 10_000).unref());
    const outcome = await Promise.race([scan.then(() => 'resolved', (err: Error) => err), hang]);
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as { code?: string }).code).toBe('E_INTERNAL');
    expect((outcome as Error).message).toMatch(/exited with code 3/);
  }, 20_000);
});
