/**
 * Hostile and damaged archives: every unsafe entry is refused with its name,
 * the safe entries around it still restore, nothing is written outside the
 * cache (the folder around it is listed before and after), and the cache
 * verifies clean afterwards. A stream cut anywhere stops the restore with
 * what was complete kept and linked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildSampleCache, fakeCommit, sha256 } from '../helpers/cacheBuilder.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { listTree, rawTar } from './archiveHelpers.js';

let root: string;

beforeAll(async () => {
  root = await makeTempDir({ prefix: 'hubcache-hostile-' });
});

/** Restores `archive` into a fresh cache in its own folder; returns the report and what appeared outside the cache. */
async function restoreIsolated(params: { name: string; archive: Buffer; args?: string[] }): Promise<{ code: number | null; report: any; stderr: string; outside: string[]; cacheDir: string }> {
  const box = join(root, params.name);
  await mkdir(box, { recursive: true });
  const archivePath = join(box, 'in.tar');
  await writeFile(archivePath, params.archive);
  const cacheDir = join(box, 'cache');
  const before = await listTree(box);
  const result = await runCli({ args: ['restore', archivePath, '--json', '--cache-dir', cacheDir, ...(params.args ?? [])], cwd: box });
  const after = await listTree(box);
  const outside = after.filter((p) => !before.includes(p) && p !== 'cache' && !p.startsWith('cache/'));
  return { code: result.code, report: result.json(), stderr: result.stderr, outside, cacheDir };
}

const commit = fakeCommit('hostile');
const good = Buffer.from('good weights');
const goodEtag = sha256(good);

function goodEntries(): Parameters<typeof rawTar>[0] {
  return [
    { name: `models--org--m/blobs/${goodEtag}`, content: good },
    { name: `models--org--m/snapshots/${commit}/w.bin`, type: '2', linkname: `../../blobs/${goodEtag}` },
    { name: 'models--org--m/refs/main', content: commit },
  ];
}

describe('hostile archives', () => {
  it('refuses traversal, absolute names, escaping and absolute links, hard links, devices, FIFOs and huge names; restores the rest', async () => {
    const evil = `hubcache-evil-${randomBytes(4).toString('hex')}`;
    const archive = rawTar([
      { name: `../${evil}.txt`, content: 'climb' },
      { name: `/tmp/${evil}-abs.txt`, content: 'absolute' },
      { name: `models--org--m/snapshots/${commit}/../../../../${evil}`, content: 'climb in a repo' },
      { name: `models--org--m/snapshots/${commit}/escape`, type: '2', linkname: '../../../../../../etc/passwd' },
      { name: `models--org--m/snapshots/${commit}/abs`, type: '2', linkname: '/etc/passwd' },
      { name: `models--org--m/snapshots/${commit}/other-repo`, type: '2', linkname: `../../../models--org--x/blobs/${goodEtag}` },
      { name: 'escape-link', type: '2', linkname: '/etc' },
      { name: `models--org--m/blobs/${'b'.repeat(64)}`, type: '1', linkname: '/etc/passwd' },
      { name: 'models--org--m/dev', type: '3' },
      { name: 'models--org--m/fifo', type: '6' },
      { name: `models--org--m/snapshots/${commit}/${'n'.repeat(5000)}`, type: '2', linkname: `../../blobs/${goodEtag}`, paxPath: true },
      ...goodEntries(),
    ]);
    const { code, report, outside, cacheDir } = await restoreIsolated({ name: 'mixed', archive });
    expect(code).toBe(1);
    expect(outside).toEqual([]);
    expect(existsSync(`/tmp/${evil}-abs.txt`)).toBe(false);
    const byCode = (c: string): string[] => report.problems.filter((p: { code: string }) => p.code === c).map((p: { entry: string }) => p.entry);
    expect(byCode('unsafe-path')).toEqual([`../${evil}.txt`, `/tmp/${evil}-abs.txt`, `models--org--m/snapshots/${commit}/../../../../${evil}`]);
    expect(byCode('link-escapes')).toEqual([
      `models--org--m/snapshots/${commit}/escape`,
      `models--org--m/snapshots/${commit}/abs`,
      `models--org--m/snapshots/${commit}/other-repo`,
      'escape-link',
    ]);
    expect(byCode('hard-link')).toEqual([`models--org--m/blobs/${'b'.repeat(64)}`]);
    expect(byCode('device')).toEqual(['models--org--m/dev']);
    expect(byCode('fifo')).toEqual(['models--org--m/fifo']);
    expect(byCode('huge-name')).toHaveLength(1);
    for (const p of report.problems) expect(p.message.length).toBeLessThan(600);
    // The safe part restored, and the cache is sound.
    expect(report.blobs).toMatchObject({ written: 1 });
    expect(report.refs).toEqual([{ repo: 'models--org--m', ref: 'main', commit, status: 'created' }]);
    expect(await readFile(join(cacheDir, 'models--org--m', 'snapshots', commit, 'w.bin'), 'utf8')).toBe('good weights');
    const verify = await runCli({ args: ['verify', '--json', '--cache-dir', cacheDir] });
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('refuses entries of a hubcache backup that its index does not list', async () => {
    const source = join(root, 'indexed-src');
    const built = await buildSampleCache({ cacheDir: source });
    const out = join(root, 'indexed.tar');
    expect((await runCli({ args: ['backup', out, 'org/model', '--cache-dir', source] })).code).toBe(0);
    const real = await readFile(out);
    // Drop the end-of-archive blocks and the record padding, append unlisted entries, end it again.
    const end = lastEntryEnd(real);
    const extra = rawTar([
      { name: `models--org--model/blobs/${goodEtag}`, content: good },
      { name: `models--org--model/snapshots/${built.repos[0]!.revisions[0]!.commit}/extra.bin`, type: '2', linkname: `../../blobs/${goodEtag}` },
      { name: 'models--org--other/refs/main', content: commit },
      { name: 'stray.txt', content: 'x' },
    ]);
    const { code, report, outside, cacheDir } = await restoreIsolated({ name: 'indexed', archive: Buffer.concat([real.subarray(0, end), extra]) });
    expect(code).toBe(1);
    expect(outside).toEqual([]);
    expect(report.problems.map((p: { code: string; entry: string }) => `${p.code} ${p.entry}`)).toEqual([
      `not-in-index models--org--model/blobs/${goodEtag}`,
      `not-in-index models--org--model/snapshots/${built.repos[0]!.revisions[0]!.commit}/extra.bin`,
      'not-in-index models--org--other/refs/main',
      'not-in-index stray.txt',
    ]);
    // Everything the index lists restored.
    expect(report.blobs.written).toBe(4);
    expect(existsSync(join(cacheDir, 'models--org--model', 'blobs', goodEtag))).toBe(false);
    expect((await runCli({ args: ['verify', '--cache-dir', cacheDir] })).code).toBe(0);
  });

  it('a stream cut inside a blob, at an entry boundary, or inside gzip: refused naming where, complete blobs kept and linked', async () => {
    const big = randomBytes(300 * 1024);
    const bigEtag = createHash('sha256').update(big).digest('hex');
    const full = rawTar([
      ...goodEntries(),
      { name: `models--org--m/blobs/${bigEtag}`, content: big },
      { name: `models--org--m/snapshots/${commit}/big.bin`, type: '2', linkname: `../../blobs/${bigEtag}` },
    ]);
    const cutAt = full.indexOf(big) + 100 * 1024;
    const inBlob = await restoreIsolated({ name: 'cut-blob', archive: full.subarray(0, cutAt) });
    expect(inBlob.code).toBe(1);
    expect(inBlob.outside).toEqual([]);
    const truncated = inBlob.report.problems.find((p: { code: string }) => p.code === 'truncated');
    expect(truncated.entry).toBe(`models--org--m/blobs/${bigEtag}`);
    expect(truncated.message).toContain(`models--org--m/blobs/${bigEtag}`);
    // The first blob was complete: committed and linked; the cut one left nothing behind.
    expect(await readFile(join(inBlob.cacheDir, 'models--org--m', 'snapshots', commit, 'w.bin'), 'utf8')).toBe('good weights');
    // (Its lock file stays, as every lock file does.)
    expect((await listTree(inBlob.cacheDir)).filter((p) => p.includes(bigEtag) && !p.startsWith('.locks/'))).toEqual([]);
    expect((await runCli({ args: ['verify', '--cache-dir', inBlob.cacheDir] })).code).toBe(0);

    const noEnd = await restoreIsolated({ name: 'cut-boundary', archive: full.subarray(0, full.length - 1024) });
    expect(noEnd.code).toBe(1);
    expect(noEnd.report.problems.map((p: { code: string }) => p.code)).toEqual(['truncated']);
    expect(noEnd.report.problems[0].message).toContain('big.bin');

    const gz = gzipSync(full);
    const inGzip = await restoreIsolated({ name: 'cut-gzip', archive: gz.subarray(0, Math.floor(gz.length * 0.6)) });
    expect(inGzip.code).toBe(1);
    expect(inGzip.report.problems.some((p: { code: string }) => p.code === 'truncated')).toBe(true);
    expect((await runCli({ args: ['verify', '--cache-dir', inGzip.cacheDir] })).code).toBe(0);
  });

  it('a big blob (written and hashed by the writer threads) cut short or with a flipped byte: refused, no partial left, the next big blob restores', async () => {
    const first = randomBytes(3 * 1024 * 1024 + 5);
    const second = randomBytes(2 * 1024 * 1024 + 3);
    const etagOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    const entries = (a: Buffer, b: Buffer): Parameters<typeof rawTar>[0] => [
      { name: `models--org--m/blobs/${etagOf(first)}`, content: a },
      { name: `models--org--m/snapshots/${commit}/first.bin`, type: '2', linkname: `../../blobs/${etagOf(first)}` },
      { name: `models--org--m/blobs/${etagOf(second)}`, content: b },
      { name: `models--org--m/snapshots/${commit}/second.bin`, type: '2', linkname: `../../blobs/${etagOf(second)}` },
      { name: 'models--org--m/refs/main', content: commit },
    ];
    const flippedFirst = Buffer.from(first);
    const at = 2 * 1024 * 1024 + 77;
    flippedFirst.writeUInt8(flippedFirst.readUInt8(at) ^ 1, at);
    const damaged = await restoreIsolated({ name: 'big-flipped', archive: rawTar(entries(flippedFirst, second)) });
    expect(damaged.code).toBe(1);
    expect(damaged.report.problems).toMatchObject([{ code: 'hash-mismatch', entry: `models--org--m/blobs/${etagOf(first)}` }]);
    expect(damaged.report.blobs).toMatchObject({ written: 1, refused: 1 });
    expect(etagOf(await readFile(join(damaged.cacheDir, 'models--org--m', 'snapshots', commit, 'second.bin')))).toBe(etagOf(second));
    expect((await listTree(damaged.cacheDir)).filter((p) => p.includes(etagOf(first)) && !p.startsWith('.locks/'))).toEqual([]);
    expect((await runCli({ args: ['verify', '--cache-dir', damaged.cacheDir] })).code).toBe(0);

    const full = rawTar(entries(first, second));
    const cut = await restoreIsolated({ name: 'big-cut', archive: full.subarray(0, full.indexOf(second.subarray(0, 64)) + 1024 * 1024 + 100) });
    expect(cut.code).toBe(1);
    expect(cut.report.problems).toMatchObject([{ code: 'truncated', entry: `models--org--m/blobs/${etagOf(second)}` }]);
    expect(etagOf(await readFile(join(cut.cacheDir, 'models--org--m', 'snapshots', commit, 'first.bin')))).toBe(etagOf(first));
    expect((await listTree(cut.cacheDir)).filter((p) => p.includes(etagOf(second)) && !p.startsWith('.locks/'))).toEqual([]);
    expect((await runCli({ args: ['verify', '--cache-dir', cut.cacheDir] })).code).toBe(0);
  });

  it('takes a hard link only as the second name of a blob earlier in the same cache, with the same name', async () => {
    const other = Buffer.from('other weights');
    const otherEtag = sha256(other);
    const archive = rawTar([
      ...goodEntries(),
      // Refused: to a blob of another name, to a blob not (yet) in the archive, to one of another cache, out of the archive.
      { name: `models--org--x/blobs/${otherEtag}`, type: '1', linkname: `models--org--m/blobs/${goodEtag}` },
      { name: `models--org--y/blobs/${otherEtag}`, type: '1', linkname: `models--org--z/blobs/${otherEtag}` },
      { name: `other/hub/models--org--y/blobs/${goodEtag}`, type: '1', linkname: `models--org--m/blobs/${goodEtag}` },
      { name: `models--org--y/blobs/${goodEtag}`, type: '1', linkname: `../models--org--m/blobs/${goodEtag}` },
      { name: `models--org--y/snapshots/${commit}/w.bin`, type: '1', linkname: `models--org--m/snapshots/${commit}/w.bin` },
      // Taken: a second name of the good blob, in another repo of the same cache.
      { name: `./models--org--k/blobs/${goodEtag}`, type: '1', linkname: `./models--org--m/blobs/${goodEtag}` },
      { name: `models--org--k/snapshots/${commit}/w.bin`, type: '2', linkname: `../../blobs/${goodEtag}` },
      { name: 'models--org--k/refs/main', content: commit },
    ]);
    const { code, report, outside, cacheDir } = await restoreIsolated({ name: 'hard-links', archive });
    expect(code).toBe(1);
    expect(outside).toEqual([]);
    expect(report.problems.map((p: { code: string; entry: string }) => `${p.code} ${p.entry}`)).toEqual([
      `hard-link models--org--x/blobs/${otherEtag}`,
      `hard-link models--org--y/blobs/${otherEtag}`,
      `hard-link other/hub/models--org--y/blobs/${goodEtag}`,
      `hard-link models--org--y/blobs/${goodEtag}`,
      `hard-link models--org--y/snapshots/${commit}/w.bin`,
    ]);
    expect(report.blobs).toMatchObject({ written: 2 });
    expect(await readFile(join(cacheDir, 'models--org--k', 'snapshots', commit, 'w.bin'), 'utf8')).toBe('good weights');
    // A copy, not a second name of the first blob.
    const [first, second] = await Promise.all(['m', 'k'].map((r) => stat(join(cacheDir, `models--org--${r}`, 'blobs', goodEtag))));
    expect(second!.ino).not.toBe(first!.ino);
    expect((await runCli({ args: ['verify', '--cache-dir', cacheDir] })).code).toBe(0);
  });

  it('refuses an archive whose index is not a hubcache index, writing nothing', async () => {
    const archive = rawTar([{ name: '.locks/.hubcache/backup-index.json', content: JSON.stringify({ format: 'hubcache-backup', version: 1, repos: [{ folder: '../../etc', repoType: 'model', repoId: 'x', refs: {}, revisions: [] }] }) }, ...goodEntries()]);
    const { code, report, outside, cacheDir } = await restoreIsolated({ name: 'bad-index', archive });
    expect(code).toBe(1);
    expect(outside).toEqual([]);
    expect(report.problems[0].code).toBe('archive');
    expect(await listTree(cacheDir)).toEqual([]);
  });
});

/** Offset just past the last entry of a tar made by hubcache (before its end blocks and padding). */
function lastEntryEnd(tar: Buffer): number {
  let pos = 0;
  for (;;) {
    const block = tar.subarray(pos, pos + 512);
    if (block.every((b) => b === 0)) return pos;
    const size = parseInt(block.toString('ascii', 124, 136).replace(/\0.*$/, ''), 8);
    pos += 512 + Math.ceil(size / 512) * 512;
  }
}
