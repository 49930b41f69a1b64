/**
 * The download ring on its native threads (native/ring.c): what reaches the file, the digest,
 * resuming after a prefix, reuse for another file, failures (a missing file, a full disk) and
 * close, and a process exiting with a ring in any state. Real files in temp dirs; the full disk is a
 * real tmpfs (root only, as in CI).
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRingWriter, type RingWriter } from '../../src/cache/ringWriter.js';
import { makeTempDir } from '../helpers/tempDir.js';

const SLOT = 1024 * 1024;

/** Writes `bytes` from `from` on through the ring, several slots in flight as a download does. */
async function pump(ring: RingWriter, bytes: Buffer, from = 0): Promise<void> {
  const inFlight: Array<Promise<void>> = [];
  for (let position = from; position < bytes.length; ) {
    const slot = await ring.acquire();
    const length = Math.min(SLOT, bytes.length - position, 1 + ((position * 7919) % SLOT));
    bytes.copy(slot.buffer, 0, position, position + length);
    inFlight.push(ring.submit(slot, length, position));
    position += length;
  }
  await Promise.all(inFlight);
}

function gitSha1(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

describe('ring writer (native threads)', () => {
  it('writes every slot at its offset and hashes them in order (sha256)', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'partial');
    await writeFile(path, '');
    const bytes = randomBytes(5 * SLOT + 12345);
    const ring = createRingWriter({ path, prefixBytes: 0, algorithm: 'sha256', size: bytes.length });
    try {
      await pump(ring, bytes);
      expect(await ring.finish()).toBe(createHash('sha256').update(bytes).digest('hex'));
    } finally {
      await ring.close();
    }
    expect((await readFile(path)).equals(bytes)).toBe(true);
  });

  it('resumes: hashes the prefix from the file, writes only after it (git-sha1)', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'partial');
    const bytes = randomBytes(3 * SLOT + 7);
    const prefix = SLOT + 4096;
    await writeFile(path, bytes.subarray(0, prefix));
    const ring = createRingWriter({ path, prefixBytes: prefix, algorithm: 'git-sha1', size: bytes.length });
    try {
      await pump(ring, bytes, prefix);
      expect(await ring.finish()).toBe(gitSha1(bytes));
    } finally {
      await ring.close();
    }
    expect((await readFile(path)).equals(bytes)).toBe(true);
  });

  it('serves file after file (reopen), and a prefix longer than the file fails that file only', async () => {
    const dir = await makeTempDir();
    await writeFile(join(dir, 'a'), '');
    await writeFile(join(dir, 'b'), 'short');
    await writeFile(join(dir, 'c'), '');
    const a = randomBytes(SLOT + 1);
    const ring = createRingWriter({ path: join(dir, 'a'), prefixBytes: 0, algorithm: 'sha256', size: a.length });
    try {
      await pump(ring, a);
      expect(await ring.finish()).toBe(createHash('sha256').update(a).digest('hex'));
      await expect(ring.reopen({ path: join(dir, 'b'), prefixBytes: 100, algorithm: 'sha256', size: 200 })).rejects.toThrow(/shorter than its recorded progress/);
      const c = randomBytes(2 * SLOT);
      await ring.reopen({ path: join(dir, 'c'), prefixBytes: 0, algorithm: 'sha256', size: c.length });
      await pump(ring, c);
      expect(await ring.finish()).toBe(createHash('sha256').update(c).digest('hex'));
      expect((await readFile(join(dir, 'c'))).equals(c)).toBe(true);
    } finally {
      await ring.close();
    }
  });

  it('a file that cannot be opened fails the slots with its errno, like fs', async () => {
    const dir = await makeTempDir();
    const ring = createRingWriter({ path: join(dir, 'missing', 'partial'), prefixBytes: 0, algorithm: 'sha256', size: 10 });
    try {
      const slot = await ring.acquire();
      const failed = await ring.submit(slot, 10, 0).then(
        () => undefined,
        (err: NodeJS.ErrnoException) => err,
      );
      expect(failed?.code).toBe('ENOENT');
      expect(failed?.message).toMatch(/^ENOENT: No such file or directory, open/);
      // The slot came back even so.
      expect(ring.tryAcquire()).toBeDefined();
    } finally {
      await ring.close();
    }
  });

  it('without a hash: writes, and finish has no digest', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'partial');
    await writeFile(path, '');
    const bytes = randomBytes(SLOT + 3);
    const ring = createRingWriter({ path, prefixBytes: 0, algorithm: undefined, size: bytes.length });
    try {
      await pump(ring, bytes);
      expect(await ring.finish()).toBeUndefined();
    } finally {
      await ring.close();
    }
    expect((await readFile(path)).equals(bytes)).toBe(true);
  });

  it('close: later work is refused, and close twice is harmless', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'partial');
    await writeFile(path, '');
    const ring = createRingWriter({ path, prefixBytes: 0, algorithm: 'sha256', size: 4 });
    await ring.close();
    await ring.close();
    const slot = ring.tryAcquire()!;
    await expect(ring.submit(slot, 4, 0)).rejects.toThrow(/stopped/);
    expect(await readFile(path, 'utf8')).toBe('');
  });

  it.skipIf(process.getuid?.() !== 0)('a full disk fails the write with ENOSPC (tmpfs of 2 MiB, as root)', async () => {
    const mountPoint = await makeTempDir();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint]);
    try {
      const path = join(mountPoint, 'partial');
      await writeFile(path, '');
      const bytes = randomBytes(4 * SLOT);
      const ring = createRingWriter({ path, prefixBytes: 0, algorithm: 'sha256', size: bytes.length });
      try {
        const failed = await pump(ring, bytes).then(
          () => undefined,
          (err: NodeJS.ErrnoException) => err,
        );
        expect(failed?.code).toBe('ENOSPC');
        expect(failed?.message).toMatch(/^ENOSPC: No space left on device, write/);
      } finally {
        await ring.close();
      }
    } finally {
      execFileSync('umount', ['-l', mountPoint]);
    }
  });

  it('a process exits cleanly with a ring idle, closed, busy, or cut short by process.exit (its threads stopped and joined, nothing freed under them)', async () => {
    const dir = await makeTempDir();
    const script = join(dir, 'ring-exit.mjs');
    // Straight on the addon: the ring writer's own close would otherwise always run first.
    await writeFile(
      script,
      `import { createRequire } from 'node:module';
const { ringCreate, ringTarget, ringSubmit, ringClose } = createRequire(${JSON.stringify(import.meta.url)})('../../build/Release/hubcache_flock.node');
const mode = process.argv[2];
const [handle, memory] = ringCreate(8, 1 << 20, (id) => { if (id === 3) process.stdout.write('closed'); });
new Uint8Array(memory).fill(7);
if (mode !== 'idle') {
  ringTarget(handle, 1, ${JSON.stringify(join(dir, 'out'))}, 0, 1, 8 << 20);
  for (let i = 0; i < 8; i++) ringSubmit(handle, 10 + i, i, 1 << 20, i * (1 << 20));
}
if (mode === 'close') ringClose(handle, 3);
if (mode === 'exit') process.exit(0);
`,
    );
    for (let round = 0; round < 5; round++) {
      for (const mode of ['idle', 'close', 'exit', 'busy']) {
        // A hang (a join that never returns) fails on the timeout; a crash on the status or signal.
        const out = execFileSync(process.execPath, [script, mode], { timeout: 10_000, encoding: 'utf8' });
        expect(out).toBe(mode === 'close' ? 'closed' : '');
      }
    }
  }, 120_000);
});
