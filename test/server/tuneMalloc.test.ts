/**
 * serve asks glibc to keep freed memory for reuse (native/tuneMalloc.c): streaming allocates a
 * fresh 1 MiB Buffer per chunk, and with glibc's defaults each one faulted its pages in again.
 * The speed is a bench matter (scaleout); here: the call works and serve makes it at start.
 */
import { describe, expect, it } from 'vitest';
import { loadFlockBinding } from '../../src/cache/flock.js';
import { startServeProcess } from '../helpers/startServeProcess.js';
import { makeTempDir } from '../helpers/tempDir.js';

// Debian/Ubuntu (CI, the Docker image) are glibc; elsewhere the call says it did nothing.
const glibc = Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime);

describe('malloc tuning for serve', () => {
  it('the addon tunes glibc malloc (and says false where there is no glibc)', () => {
    expect(loadFlockBinding().tuneMalloc?.()).toBe(glibc);
  });

  it('serve makes the call at start and logs it', async () => {
    const cacheDir = await makeTempDir();
    const server = await startServeProcess({ args: ['--cache-dir', cacheDir, '--offline', '--no-dashboard'] });
    try {
      const lines = server
        .stderr()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { event?: string; tuned?: boolean });
      expect(lines.find((line) => line.event === 'malloc')).toEqual({ event: 'malloc', tuned: glibc });
    } finally {
      await server.stop();
    }
  });
});
