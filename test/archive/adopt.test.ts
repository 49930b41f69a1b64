/**
 * `hubcache adopt`: files a user already has enter the cache as repo files with
 * no body transfer, checked against the Hub's etag (one HEAD) or, offline, the
 * user's --sha256; a wrong file writes nothing; --move and --link keep their
 * promises (source gone / same inode). Run against the fake Hub, the built CLI,
 * real files, and Python's own cache scan.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanCacheDir } from '@huggingface/hub';
import { acquireLock, adoptFile, adoptFolder, isHubcacheError } from '../../src/index.js';
import { doctorCache } from '../../src/maintenance/doctorCache.js';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { linearRepo } from '../helpers/origin/fixture.js';
import { pythonHub, pythonScan } from '../helpers/pythonHub.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';

const CONFIG = '{"model_type":"llama"}';
const TOKENIZER = '{"vocab":{"a":1}}';
/** Deterministic bytes; `.gguf` makes it an LFS file (sha256 etag, CDN redirect). */
const WEIGHTS = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 131 + (i >> 7)) & 0xff));
const REPO_FOLDER = 'models--acme--adopt';

let origin: Origin;
let commit: string;

beforeAll(async () => {
  origin = await createOrigin({
    fixture: {
      repos: [
        linearRepo({
          repoId: 'acme/adopt',
          commits: [
            {
              files: [
                { path: 'config.json', source: CONFIG },
                { path: 'model.gguf', source: WEIGHTS },
                { path: 'tok/tokenizer.json', source: TOKENIZER },
              ],
            },
          ],
        }),
      ],
    },
  });
  commit = origin.fixture.byKey.get('models/acme/adopt')!.refs.get('main')!;
});
afterAll(async () => origin?.close());

function hubcache(args: string[], cacheDir: string, env: Record<string, string | undefined> = {}): ReturnType<typeof runCli> {
  return runCli({ args: [...args, '--cache-dir', cacheDir], env: { HF_ENDPOINT: origin.url, HF_TOKEN: undefined, HF_HUB_OFFLINE: undefined, ...env } });
}

async function setup(): Promise<{ base: string; cacheDir: string }> {
  const base = await makeTempDir({ prefix: 'hubcache-adopt-' });
  return { base, cacheDir: join(base, 'hub') };
}

async function writeLocal(path: string, content: string | Buffer): Promise<string> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
  return path;
}

function flipped(content: Buffer): Buffer {
  const copy = Buffer.from(content);
  copy[1000] = copy[1000]! ^ 0xff;
  return copy;
}

/** What is under the cache besides hubcache's own (empty) temp folder: nothing, for a refused adopt. */
async function cacheEntries(cacheDir: string): Promise<string[]> {
  const tmp = join(cacheDir, '.locks', '.hubcache', 'tmp');
  const temps = existsSync(tmp) ? (await readdir(tmp)).map((n) => `tmp/${n}`) : [];
  const top = existsSync(cacheDir) ? (await readdir(cacheDir)).filter((n) => n !== '.locks') : [];
  return [...top, ...temps];
}

describe('adopt one file', () => {
  it('links a matching LFS file with one HEAD and no body bytes; verify is clean and Python sees it', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'Downloads', 'model.gguf'), WEIGHTS);
    origin.stats.reset();
    const res = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '--json'], cacheDir);
    expect(res.code, res.stderr).toBe(0);
    const out = res.json();
    expect(out).toMatchObject({ commit, blob: 'adopted', checkedAgainst: 'hub', sourceRemoved: false, sharesInode: false, size: WEIGHTS.length });
    expect(out.etag).toBe(createHash('sha256').update(WEIGHTS).digest('hex'));
    expect(origin.stats.bodyBytes).toBe(0);
    expect(origin.stats.requests).toMatchObject({ head: 1, getResolve: 0, cdn: 0, api: 0 });
    // Laid out as a download lays it out: relative link to the blob, ref to the commit.
    const snapshotFile = join(cacheDir, REPO_FOLDER, 'snapshots', commit, 'model.gguf');
    expect(out.snapshotPath).toBe(snapshotFile);
    expect(await readlink(snapshotFile)).toBe(`../../blobs/${out.etag}`);
    expect(Buffer.compare(await readFile(snapshotFile), WEIGHTS)).toBe(0);
    expect(await readFile(join(cacheDir, REPO_FOLDER, 'refs', 'main'), 'utf8')).toBe(commit);
    expect(existsSync(source)).toBe(true);
    expect(await readdir(join(cacheDir, '.locks', '.hubcache', 'tmp'))).toEqual([]);

    const verify = await hubcache(['verify', '--json'], cacheDir);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.json()).toMatchObject({ ok: true, blobsChecked: 1 });
    const python = pythonHub();
    if (python) {
      const scan = pythonScan(python, cacheDir);
      expect(scan.error).toBeUndefined();
      expect(scan.repos).toEqual([expect.objectContaining({ repo_id: 'acme/adopt', refs: ['main'], revisions: [commit], nb_files: 1, size_on_disk: WEIGHTS.length })]);
    } else {
      console.warn('python huggingface_hub not available: Python scan skipped');
    }
    const theirs = await scanCacheDir(cacheDir);
    expect(theirs.repos.map((r) => [r.id.name, r.size])).toEqual([['acme/adopt', WEIGHTS.length]]);
    // A later download finds it in place.
    origin.stats.reset();
    const download = await hubcache(['download', 'acme/adopt', 'model.gguf', '--json'], cacheDir);
    expect(download.code, download.stderr).toBe(0);
    expect(download.json().fromCache).toBe(true);
    expect(origin.stats.bodyBytes).toBe(0);
  });

  it('adopts a regular (non-LFS) file under its git-sha1 etag', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'tokenizer.json'), TOKENIZER);
    const res = await hubcache(['adopt', 'acme/adopt', 'tok/tokenizer.json', source, '--json'], cacheDir);
    expect(res.code, res.stderr).toBe(0);
    const gitSha1 = createHash('sha1').update(`blob ${Buffer.byteLength(TOKENIZER)}\0${TOKENIZER}`).digest('hex');
    expect(res.json().etag).toBe(gitSha1);
    expect(await readlink(join(cacheDir, REPO_FOLDER, 'snapshots', commit, 'tok', 'tokenizer.json'))).toBe(`../../../blobs/${gitSha1}`);
    expect((await hubcache(['verify'], cacheDir)).code).toBe(0);
  });

  it('refuses a wrong file (E_INTEGRITY) and writes nothing, whatever the mode; the source stays', async () => {
    const { base, cacheDir } = await setup();
    const wrong = await writeLocal(join(base, 'model.gguf'), flipped(WEIGHTS));
    for (const mode of ['--copy', '--move', '--link']) {
      const res = await hubcache(['adopt', 'acme/adopt', 'model.gguf', wrong, mode, '--json'], cacheDir);
      expect(res.code, `${mode}: ${res.stderr}`).toBe(1);
      expect(res.json().error.code).toBe('E_INTEGRITY');
      expect(res.json().error.data).toMatchObject({ expected: origin.file({ repoId: 'acme/adopt', path: 'model.gguf' }).etag });
      expect(await cacheEntries(cacheDir)).toEqual([]);
      expect(Buffer.compare(await readFile(wrong), flipped(WEIGHTS))).toBe(0);
    }
    // A file of another size is refused before it is read.
    const short = await writeLocal(join(base, 'short.gguf'), WEIGHTS.subarray(0, 1000));
    const res = await hubcache(['adopt', 'acme/adopt', 'model.gguf', short, '--json'], cacheDir);
    expect(res.code).toBe(1);
    expect(res.json().error).toMatchObject({ code: 'E_INTEGRITY', data: { expectedSize: WEIGHTS.length, actualSize: 1000 } });
    expect(await cacheEntries(cacheDir)).toEqual([]);
  });

  it('refuses traversal in FILE before asking the Hub', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'config.json'), CONFIG);
    origin.stats.reset();
    for (const file of ['../../../etc/passwd', 'a/../../config.json', '/abs/config.json', 'a\\b']) {
      const res = await hubcache(['adopt', 'acme/adopt', file, source, '--json'], cacheDir);
      expect(res.code, file).toBe(2);
      expect(res.json().error.code).toBe('E_INVALID_PATH');
    }
    expect(origin.stats.requests.head).toBe(0);
    expect(await cacheEntries(cacheDir)).toEqual([]);
  });

  it('works offline with --sha256 and a commit, and refuses without the commit or with a wrong hash', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'model.gguf'), WEIGHTS);
    const sha256 = createHash('sha256').update(WEIGHTS).digest('hex');
    const offline = { HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' };
    origin.stats.reset();
    const noSha = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '--json'], cacheDir, offline);
    expect(noSha.code).toBe(1);
    expect(noSha.json().error.code).toBe('E_OFFLINE');
    const noCommit = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '--sha256', sha256, '--json'], cacheDir, offline);
    expect(noCommit.code).toBe(2);
    expect(noCommit.json().error.code).toBe('E_USAGE');
    const wrong = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '-r', commit, '--sha256', 'ab'.repeat(32), '--json'], cacheDir, offline);
    expect(wrong.code).toBe(1);
    expect(wrong.json().error.code).toBe('E_INTEGRITY');
    expect(await cacheEntries(cacheDir)).toEqual([]);

    const res = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '-r', commit, '--sha256', sha256.toUpperCase(), '--json'], cacheDir, offline);
    expect(res.code, res.stderr).toBe(0);
    expect(res.json()).toMatchObject({ commit, etag: sha256, checkedAgainst: 'sha256', blob: 'adopted' });
    expect(Object.values(origin.stats.requests).reduce((a, b) => a + b, 0)).toBe(0);
    // By commit: no ref is written (as huggingface_hub does for a commit), the snapshot resolves.
    expect(existsSync(join(cacheDir, REPO_FOLDER, 'refs'))).toBe(false);
    const path = await hubcache(['path', 'acme/adopt', 'model.gguf', '--revision', commit], cacheDir, offline);
    expect(path.code, path.stderr).toBe(0);
    expect((await hubcache(['verify'], cacheDir)).code).toBe(0);
  });

  it('--move hands the file over: the blob is the source inode and the source path is gone', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'model.gguf'), WEIGHTS);
    const before = await stat(source);
    const res = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '--move', '--json'], cacheDir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.json()).toMatchObject({ blob: 'adopted', sourceRemoved: true, sharesInode: true });
    expect(existsSync(source)).toBe(false);
    const blob = await stat(join(cacheDir, REPO_FOLDER, 'blobs', res.json().etag));
    expect([blob.ino, blob.nlink]).toEqual([before.ino, 1]);
    expect((await hubcache(['verify'], cacheDir)).code).toBe(0);
  });

  it('--link makes the blob a second name of the source (same inode); doctor reports it, verify is clean', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'model.gguf'), WEIGHTS);
    const res = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '--link', '--json'], cacheDir);
    expect(res.code, res.stderr).toBe(0);
    expect(res.json()).toMatchObject({ blob: 'adopted', sourceRemoved: false, sharesInode: true });
    const blobPath = join(cacheDir, REPO_FOLDER, 'blobs', res.json().etag);
    const [src, blob] = [await stat(source), await stat(blobPath)];
    expect([blob.ino, blob.nlink]).toEqual([src.ino, 2]);
    expect((await hubcache(['verify'], cacheDir)).code).toBe(0);
    const doctor = await doctorCache({ cacheDir });
    expect(doctor.findings.find((f) => f.path === blobPath)).toMatchObject({ code: 'hard-linked-outside', fixable: false });
  });

  it('--link refuses a source on another filesystem; --move copies it across, verified, then removes it', async () => {
    const otherFs = await mkdtemp(join('/dev/shm', 'hubcache-adopt-')).catch(() => undefined);
    if (!otherFs) {
      console.warn('/dev/shm not writable: cross-filesystem adopt skipped');
      return;
    }
    try {
      const { cacheDir } = await setup();
      const source = await writeLocal(join(otherFs, 'model.gguf'), WEIGHTS);
      const linked = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '--link', '--json'], cacheDir);
      expect(linked.code).toBe(2);
      expect(linked.json().error).toMatchObject({ code: 'E_USAGE', data: { errno: 'EXDEV' } });
      expect(await cacheEntries(cacheDir)).toEqual([]);
      const moved = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '--move', '--json'], cacheDir);
      expect(moved.code, moved.stderr).toBe(0);
      expect(moved.json()).toMatchObject({ blob: 'adopted', sourceRemoved: true, sharesInode: false });
      expect(existsSync(source)).toBe(false);
      expect((await hubcache(['verify'], cacheDir)).code).toBe(0);
    } finally {
      await rm(otherFs, { recursive: true, force: true });
    }
  });

  it('--move refuses a file inside the cache; a second adopt of a cached file only links it', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'model.gguf'), WEIGHTS);
    expect((await hubcache(['adopt', 'acme/adopt', 'model.gguf', source], cacheDir)).code).toBe(0);
    const snapshotFile = join(cacheDir, REPO_FOLDER, 'snapshots', commit, 'model.gguf');
    const blobPath = join(cacheDir, REPO_FOLDER, 'blobs', createHash('sha256').update(WEIGHTS).digest('hex'));
    const inside = await hubcache(['adopt', 'acme/adopt', 'model.gguf', blobPath, '--move', '--json'], cacheDir);
    expect(inside.code).toBe(2);
    expect(inside.json().error.code).toBe('E_USAGE');
    expect(existsSync(blobPath)).toBe(true);
    const again = await hubcache(['adopt', 'acme/adopt', 'model.gguf', source, '--json'], cacheDir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json().blob).toBe('already-cached');
    expect((await lstat(snapshotFile)).isSymbolicLink()).toBe(true);
  });
});

describe('adopt a folder', () => {
  it('adopts the good file, refuses the corrupted one, lists the missing one and the extras; exit 1', async () => {
    const { base, cacheDir } = await setup();
    const dir = join(base, 'local-dir');
    await writeLocal(join(dir, 'config.json'), CONFIG);
    await writeLocal(join(dir, 'model.gguf'), flipped(WEIGHTS));
    // tok/tokenizer.json is missing; huggingface_hub's local-dir metadata and a stray file are left alone.
    await writeLocal(join(dir, '.cache', 'huggingface', 'download', 'model.gguf.metadata'), `${commit}\n${'0'.repeat(64)}\n1700000000.0\n`);
    await writeLocal(join(dir, 'notes.txt'), 'mine');
    origin.stats.reset();
    const res = await hubcache(['adopt', 'acme/adopt', dir, '--json'], cacheDir);
    expect(res.code, res.stderr).toBe(1);
    const out = res.json();
    expect(out).toMatchObject({ repo: 'acme/adopt', commit, adopted: 1, mismatched: 1, missing: 1, extra: ['notes.txt'], extraCount: 1, ok: false });
    const byPath = Object.fromEntries(out.files.map((f: any) => [f.path, f]));
    expect(byPath['config.json'].status).toBe('adopted');
    expect(byPath['model.gguf']).toMatchObject({ status: 'mismatch', code: 'E_INTEGRITY' });
    expect(byPath['tok/tokenizer.json'].status).toBe('missing');
    expect(res.stderr).toMatch(/REFUSED\s+model\.gguf/);
    expect(origin.stats.bodyBytes).toBe(0);
    expect(origin.stats.requests).toMatchObject({ head: 0, getResolve: 0, cdn: 0, api: 1 });
    // Only the good file is in the cache.
    const repoDir = join(cacheDir, REPO_FOLDER);
    const configEtag = origin.file({ repoId: 'acme/adopt', path: 'config.json' }).etag;
    expect(await readdir(join(repoDir, 'blobs'))).toEqual([configEtag]);
    expect(await readdir(join(repoDir, 'snapshots', commit))).toEqual(['config.json']);
    expect(await readFile(join(repoDir, 'refs', 'main'), 'utf8')).toBe(commit);
    expect(await readdir(join(cacheDir, '.locks', '.hubcache', 'tmp'))).toEqual([]);
    const verify = await hubcache(['verify', '--json'], cacheDir);
    expect(verify.code, verify.stdout).toBe(0);
    const python = pythonHub();
    if (python) expect(pythonScan(python, cacheDir).repos).toEqual([expect.objectContaining({ repo_id: 'acme/adopt', nb_files: 1 })]);

    // The user fixes the folder: a second run adopts the rest, with the one already cached just checked.
    await writeLocal(join(dir, 'model.gguf'), WEIGHTS);
    await writeLocal(join(dir, 'tok', 'tokenizer.json'), TOKENIZER);
    const again = await hubcache(['adopt', 'acme/adopt', dir, '--json', '--link'], cacheDir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ adopted: 3, mismatched: 0, missing: 0, ok: true });
    const statuses = Object.fromEntries(again.json().files.map((f: any) => [f.path, f.status]));
    expect(statuses).toEqual({ 'config.json': 'already-cached', 'model.gguf': 'adopted', 'tok/tokenizer.json': 'adopted' });
    expect((await hubcache(['verify'], cacheDir)).code).toBe(0);
    const download = await hubcache(['download', 'acme/adopt', '--json'], cacheDir);
    expect(download.code, download.stderr).toBe(0);
    expect(isAbsolute(download.json().path)).toBe(true);
  });

  it('refuses --move of a symlinked file per file and keeps the link', async () => {
    const { base, cacheDir } = await setup();
    const dir = join(base, 'local-dir');
    const real = await writeLocal(join(base, 'elsewhere', 'config.json'), CONFIG);
    await mkdir(dir, { recursive: true });
    await symlink(real, join(dir, 'config.json'));
    const res = await hubcache(['adopt', 'acme/adopt', dir, '--move', '--json'], cacheDir);
    expect(res.code).toBe(1);
    expect(res.json().files.find((f: any) => f.path === 'config.json')).toMatchObject({ status: 'refused', code: 'E_USAGE' });
    expect((await lstat(join(dir, 'config.json'))).isSymbolicLink()).toBe(true);
    expect(existsSync(real)).toBe(true);
    // --copy follows it.
    const copied = await hubcache(['adopt', 'acme/adopt', dir, '--json'], cacheDir);
    expect(copied.json().files.find((f: any) => f.path === 'config.json').status).toBe('adopted');
  });
});

describe('adopt as a library call', () => {
  it('adoptFile reports hashing progress to the last byte; adoptFolder reports each file as it goes', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'model.gguf'), WEIGHTS);
    const events: number[] = [];
    const result = await adoptFile({
      repoType: 'model',
      repoId: 'acme/adopt',
      cacheDir,
      endpoint: origin.url,
      path: 'model.gguf',
      source,
      onProgress: (e) => events.push(e.bytesDone),
    });
    expect(result).toMatchObject({ commit, blob: 'adopted', path: 'model.gguf' });
    expect(events.at(-1)).toBe(WEIGHTS.length);
    const wrong = await adoptFile({ repoType: 'model', repoId: 'acme/adopt', cacheDir, endpoint: origin.url, path: 'config.json', source }).catch((e: unknown) => e);
    expect(isHubcacheError(wrong, 'E_INTEGRITY')).toBe(true);

    const dir = join(base, 'dir');
    await writeLocal(join(dir, 'config.json'), CONFIG);
    const seen: string[] = [];
    const folder = await adoptFolder({ repoType: 'model', repoId: 'acme/adopt', cacheDir, endpoint: origin.url, folder: dir, onFile: (f) => seen.push(`${f.path}:${f.status}`) });
    expect(seen).toEqual(['config.json:adopted', 'model.gguf:missing', 'tok/tokenizer.json:missing']);
    expect(folder.ok).toBe(true);
  });
});

describe('adopt and a cleanup running at the same time', () => {
  it('stages again when a cleanup sweeps its verified temp before the locked rename, and still links the file', async () => {
    const { base, cacheDir } = await setup();
    const source = await writeLocal(join(base, 'model.gguf'), WEIGHTS);
    const etag = origin.file({ repoId: 'acme/adopt', path: 'model.gguf' }).etag;
    // Hold the blob's lock as a download or a cleanup would: adopt stages, verifies, then waits for it.
    const lock = await acquireLock({ path: join(cacheDir, '.locks', REPO_FOLDER, `${etag}.lock`) });
    const warnings: string[] = [];
    const adopting = adoptFile({ repoType: 'model', repoId: 'acme/adopt', cacheDir, endpoint: origin.url, path: 'model.gguf', source, onWarning: (m) => warnings.push(m) });
    const tmp = join(cacheDir, '.locks', '.hubcache', 'tmp');
    let staged: string | undefined;
    while (staged === undefined) {
      const names = existsSync(tmp) ? await readdir(tmp) : [];
      for (const name of names) {
        if ((await stat(join(tmp, name)).catch(() => undefined))?.size === WEIGHTS.length) staged = join(tmp, name);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    // gc's sweep of the temp folder, while adopt waits for the lock.
    await rm(staged);
    await lock.release();
    const result = await adopting;
    expect(result.blob).toBe('adopted');
    expect(warnings.join('\n')).toContain('adopting it again');
    expect(Buffer.compare(await readFile(result.snapshotPath), WEIGHTS)).toBe(0);
    expect(await readdir(tmp)).toEqual([]);
    expect(existsSync(source)).toBe(true);
  });
});
