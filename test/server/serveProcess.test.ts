/**
 * `hubcache serve` as users run it: a real process, options checked, SIGTERM in the middle of a
 * fill finishes cleanly (exit 0) and leaves no blob, link or ref for the unfinished file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { CLI_PATH, runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';

const MiB = 1024 * 1024;
let origin: Origin;

beforeAll(async () => {
  origin = await createOrigin({
    fixture: { repos: [linearRepo({ repoId: 'acme/slow', commits: [{ files: [{ path: 'w.gguf', source: { size: 32 * MiB, seed: 'serve-slow' } }, { path: 'a.json', source: '{}' }] }] })] },
  });
});
afterAll(async () => origin?.close());

function startServe(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, 'serve', '--port', '0', '--json', ...args], { env: { ...process.env, HUBCACHE_UPSTREAM: origin.url } });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      let parsed: { url?: string } | undefined;
      try {
        parsed = JSON.parse(stdout) as { url?: string };
      } catch {
        return; // not all of it yet
      }
      if (parsed.url) resolve({ child, url: parsed.url, stderr: () => stderr });
    });
    child.once('exit', (code) => reject(new Error(`serve exited early (${code}): ${stderr}`)));
  });
}

describe('hubcache serve (process)', () => {
  it('rejects bad options with exit 2', async () => {
    for (const args of [['--port', 'abc'], ['--port', '70000'], ['--upstream', 'ftp://x'], ['--token-file', '/nonexistent/tokens'], ['--advertise-url', 'ftp://x'], ['--advertise-url', 'not a url']]) {
      const result = await runCli({ args: ['serve', ...args, '--json'], env: {} });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.json().error.code).toBe('E_USAGE');
    }
  });

  it('SIGTERM during a fill: exit 0, no blob or snapshot link of the unfinished file; a finished one stays', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const { child, url, stderr } = await startServe(['--cache-dir', cacheDir, '--grace', '1']);
    const small = await fetch(`${url}/acme/slow/resolve/main/a.json`);
    expect(await small.text()).toBe('{}');
    origin.faults.add({ kind: 'trickle', bytesPerSecond: 2 * MiB, match: { path: 'w.gguf' } });
    const received = await new Promise<number>((resolve) => {
      let bytes = 0;
      const req = request(`${url}/acme/slow/resolve/main/w.gguf`, (res) => {
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.byteLength;
          if (bytes >= MiB && !child.killed) child.kill('SIGTERM');
        });
        res.on('close', () => resolve(bytes));
      });
      req.on('error', () => resolve(bytes));
      req.end();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr()).toBe(0);
    expect(received).toBeLessThan(32 * MiB);
    const file = origin.file({ repoId: 'acme/slow', path: 'w.gguf' });
    const blobs = await readdir(join(cacheDir, 'models--acme--slow', 'blobs'));
    expect(blobs).not.toContain(file.etag);
    expect(blobs).toContain(origin.file({ repoId: 'acme/slow', path: 'a.json' }).etag);
    const snapshots = await readdir(join(cacheDir, 'models--acme--slow', 'snapshots'));
    const linked = await readdir(join(cacheDir, 'models--acme--slow', 'snapshots', snapshots[0]!));
    expect(linked).toEqual(['a.json']);
    origin.faults.clear();
  });
});
