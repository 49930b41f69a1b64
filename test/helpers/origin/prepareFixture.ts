/**
 * Turns a `Fixture` into what the origin serves: every file hashed (git-sha1,
 * sha256), LFS decided, pointer files and directory entries derived, and
 * lookups by repo, revision and path. Built once, then read-only: `setFixture`
 * swaps the whole object, so a request in flight keeps a consistent view.
 */
import { createHash } from 'node:crypto';
import { hashBuffer, hashFile, type BlobHashes } from './hashBlob.js';
import { generatedFile } from './generatedFile.js';
import type { Fixture, FixtureFile, FixtureRepo, RepoType } from './fixture.js';

export interface PreparedBlob extends BlobHashes {
  body: { kind: 'memory'; data: Buffer } | { kind: 'file'; path: string };
}

export interface PreparedFile {
  path: string;
  lfs: boolean;
  blob: PreparedBlob;
  /** The name clients give the blob (cache `blobs/<etag>`): sha256 for LFS, git-sha1 otherwise. */
  etag: string;
  /** Git blob id listed in trees: of the content, or of the LFS pointer file for LFS files. */
  oid: string;
  /** The LFS pointer file (what `/raw/` answers for an LFS file). */
  pointer?: Buffer;
}

export interface PreparedCommit {
  id: string;
  title: string;
  date: string;
  parent?: string;
  files: Map<string, PreparedFile>;
  /** Every directory that holds a file, mapped to a stable fake tree oid. */
  dirs: Map<string, string>;
}

export interface PreparedRepo {
  repoType: RepoType;
  repoId: string;
  /** Mongo-style `_id` the API returns next to `id`. */
  objectId: string;
  refs: Map<string, string>;
  commits: Map<string, PreparedCommit>;
  gated: false | 'granted' | 'denied';
  private: boolean;
}

export interface PreparedFixture {
  repos: PreparedRepo[];
  byKey: Map<string, PreparedRepo>;
  /** Every blob by sha256: the CDN serves by content address, whatever repo asked. */
  blobsBySha256: Map<string, PreparedBlob>;
}

const MiB = 1024 * 1024;

// From the Hub's default .gitattributes for new repos: these go to LFS whatever their size.
const LFS_EXTENSIONS = new Set([
  '7z', 'arrow', 'bin', 'bz2', 'ckpt', 'ftz', 'gguf', 'gz', 'h5', 'joblib', 'mlmodel', 'model', 'msgpack',
  'npy', 'npz', 'onnx', 'ot', 'parquet', 'pb', 'pickle', 'pkl', 'pt', 'pth', 'rar', 'safetensors', 'tar',
  'tflite', 'tgz', 'wasm', 'xz', 'zip', 'zst',
]);

export function isLfsByDefault(params: { path: string; size: number }): boolean {
  if (params.size >= MiB) return true;
  const name = params.path.split('/').pop() ?? '';
  const dot = name.lastIndexOf('.');
  return dot > 0 && LFS_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

/** The exact pointer file git-lfs commits in place of the content. */
export function lfsPointer(params: { sha256: string; size: number }): Buffer {
  return Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${params.sha256}\nsize ${params.size}\n`);
}

export function repoKey(params: { repoType: RepoType; repoId: string }): string {
  return `${params.repoType}s/${params.repoId}`;
}

export async function prepareFixture(params: { fixture: Fixture }): Promise<PreparedFixture> {
  const blobs = new BlobPreparer();
  const repos = await Promise.all(params.fixture.repos.map((repo) => prepareRepo({ repo, blobs })));
  const byKey = new Map<string, PreparedRepo>();
  for (const repo of repos) {
    const key = repoKey(repo);
    if (byKey.has(key)) throw new Error(`fixture: repo ${key} listed twice`);
    byKey.set(key, repo);
  }
  const blobsBySha256 = new Map<string, PreparedBlob>();
  for (const repo of repos) {
    for (const commit of repo.commits.values()) {
      for (const file of commit.files.values()) blobsBySha256.set(file.blob.sha256, file.blob);
    }
  }
  return { repos, byKey, blobsBySha256 };
}

async function prepareRepo(params: { repo: FixtureRepo; blobs: BlobPreparer }): Promise<PreparedRepo> {
  const { repo } = params;
  const repoType = repo.repoType ?? 'model';
  const name = `${repoType} ${repo.repoId}`;
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo.repoId)) throw new Error(`fixture: bad repo id "${repo.repoId}"`);
  if (repo.refs.main === undefined) throw new Error(`fixture: ${name} has no "main" ref`);

  const commits = new Map<string, PreparedCommit>();
  for (const [id, commit] of Object.entries(repo.commits)) {
    if (!/^[0-9a-f]{40}$/.test(id)) throw new Error(`fixture: ${name} commit "${id}" is not 40 lowercase hex`);
    const files = new Map<string, PreparedFile>();
    const prepared = await Promise.all(commit.files.map((file) => prepareFile({ file, blobs: params.blobs, where: name })));
    for (const file of prepared) {
      if (files.has(file.path)) throw new Error(`fixture: ${name}@${id} lists ${file.path} twice`);
      files.set(file.path, file);
    }
    commits.set(id, {
      id,
      title: commit.title ?? 'Update',
      date: commit.date ?? '2024-01-01T00:00:00.000Z',
      parent: commit.parent,
      files,
      dirs: directoriesOf({ files, where: `${name}@${id}` }),
    });
  }
  for (const commit of commits.values()) {
    if (commit.parent !== undefined && !commits.has(commit.parent)) {
      throw new Error(`fixture: ${name}@${commit.id} has unknown parent ${commit.parent}`);
    }
  }
  const refs = new Map<string, string>();
  for (const [ref, commit] of Object.entries(repo.refs)) {
    if (!commits.has(commit)) throw new Error(`fixture: ${name} ref ${ref} points to unknown commit ${commit}`);
    refs.set(ref, commit);
  }
  return {
    repoType,
    repoId: repo.repoId,
    objectId: createHash('sha1').update(`${repoType}/${repo.repoId}`).digest('hex').slice(0, 24),
    refs,
    commits,
    gated: repo.gated === 'denied' ? 'denied' : repo.gated ? 'granted' : false,
    private: repo.private ?? false,
  };
}

async function prepareFile(params: { file: FixtureFile; blobs: BlobPreparer; where: string }): Promise<PreparedFile> {
  const { file } = params;
  const segments = file.path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..') || file.path.includes('\\')) {
    throw new Error(`fixture: ${params.where} has an invalid path "${file.path}"`);
  }
  const blob = await params.blobs.prepare(file.source);
  const lfs = file.lfs ?? isLfsByDefault({ path: file.path, size: blob.size });
  if (!lfs) return { path: file.path, lfs, blob, etag: blob.gitSha1, oid: blob.gitSha1 };
  const pointer = lfsPointer(blob);
  return { path: file.path, lfs, blob, etag: blob.sha256, oid: hashBuffer({ data: pointer }).gitSha1, pointer };
}

function directoriesOf(params: { files: Map<string, PreparedFile>; where: string }): Map<string, string> {
  const contents = new Map<string, string[]>();
  for (const file of params.files.values()) {
    const parts = file.path.split('/');
    for (let depth = 1; depth < parts.length; depth++) {
      const dir = parts.slice(0, depth).join('/');
      const list = contents.get(dir) ?? [];
      list.push(`${parts.slice(depth).join('/')} ${file.oid}`);
      contents.set(dir, list);
    }
  }
  const dirs = new Map<string, string>();
  for (const [dir, entries] of contents) {
    if (params.files.has(dir)) throw new Error(`fixture: ${params.where} has "${dir}" as both a file and a folder`);
    dirs.set(dir, createHash('sha1').update(`tree\0${entries.sort().join('\n')}`).digest('hex'));
  }
  return dirs;
}

/** Hashes each distinct source once per fixture, however many commits reuse it. */
class BlobPreparer {
  private readonly memory = new Map<string, PreparedBlob>();

  async prepare(source: FixtureFile['source']): Promise<PreparedBlob> {
    if (typeof source === 'string' || source instanceof Uint8Array) {
      const data = typeof source === 'string' ? Buffer.from(source) : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
      const hashes = hashBuffer({ data });
      const known = this.memory.get(hashes.sha256);
      if (known) return known;
      const blob: PreparedBlob = { ...hashes, body: { kind: 'memory', data } };
      this.memory.set(hashes.sha256, blob);
      return blob;
    }
    if ('file' in source) {
      const hashes = await hashFile({ path: source.file });
      return { ...hashes, body: { kind: 'file', path: source.file } };
    }
    const generated = await generatedFile({ size: source.size, seed: source.seed });
    return { size: generated.size, sha256: generated.sha256, gitSha1: generated.gitSha1, body: { kind: 'file', path: generated.path } };
  }
}

/** Branch, tag, `refs/pr/N`, `HEAD` (the default branch) or a full commit id -> commit. */
export function resolveRevision(params: { repo: PreparedRepo; revision: string }): PreparedCommit | undefined {
  const { repo, revision } = params;
  const id = repo.refs.get(revision === 'HEAD' ? 'main' : revision) ?? revision;
  return repo.commits.get(id);
}

/**
 * The newest commit, walking parents from `commit`, since which `path` kept the
 * same content: what the Hub reports as a file's `lastCommit`.
 */
export function lastCommitOf(params: { repo: PreparedRepo; commit: PreparedCommit; path: string }): PreparedCommit {
  const { repo, path } = params;
  let current = params.commit;
  const oid = current.files.get(path)?.oid ?? current.dirs.get(path);
  for (;;) {
    const parent = current.parent === undefined ? undefined : repo.commits.get(current.parent);
    if (parent === undefined) return current;
    const parentOid = parent.files.get(path)?.oid ?? parent.dirs.get(path);
    if (parentOid !== oid) return current;
    current = parent;
  }
}
