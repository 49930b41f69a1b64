/**
 * Writes real hub-cache trees into temp folders, the way huggingface_hub lays
 * them out: blobs named by etag, relative snapshot links, refs without a
 * trailing newline. `layout: 'copy'` writes the no-symlink variant (files
 * copied into snapshots/, as Python does where symlinks are unsupported).
 */
import { createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { repoPaths, type RepoPaths } from '../../src/cache/repoPaths.js';
import type { RepoType } from '../../src/cache/repoId.js';

export interface BuildFile {
  content: string | Buffer;
  /** Force LFS (sha256 etag) or regular (git-sha1 etag); default by extension. */
  lfs?: boolean;
}

export interface BuildRevision {
  commit?: string;
  refs?: string[];
  files: Record<string, string | Buffer | BuildFile>;
}

export interface BuildRepo {
  repoType?: RepoType;
  repoId: string;
  layout?: 'symlink' | 'copy';
  revisions: BuildRevision[];
}

export interface BuiltFile {
  path: string;
  etag: string;
  size: number;
  blobPath: string;
  snapshotPath: string;
}

export interface BuiltRevision {
  commit: string;
  refs: string[];
  files: Record<string, BuiltFile>;
}

export interface BuiltRepo {
  repoType: RepoType;
  repoId: string;
  paths: RepoPaths;
  revisions: BuiltRevision[];
}

export interface BuiltCache {
  cacheDir: string;
  repos: BuiltRepo[];
}

const LFS_EXTENSIONS = ['.safetensors', '.gguf', '.bin', '.onnx', '.pt', '.ckpt', '.h5', '.msgpack', '.parquet'];

export function gitSha1(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

export function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Deterministic fake commit hash from any label. */
export function fakeCommit(label: string): string {
  return createHash('sha1').update(`commit:${label}`).digest('hex');
}

export function etagFor(params: { path: string; content: Buffer; lfs?: boolean }): string {
  const lfs = params.lfs ?? LFS_EXTENSIONS.some((ext) => params.path.endsWith(ext));
  return lfs ? sha256(params.content) : gitSha1(params.content);
}

export async function buildCache(params: { cacheDir: string; repos: BuildRepo[]; cachedirTag?: boolean }): Promise<BuiltCache> {
  const { cacheDir } = params;
  await mkdir(cacheDir, { recursive: true });
  if (params.cachedirTag !== false) {
    await writeFile(join(cacheDir, 'CACHEDIR.TAG'), 'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag.\n');
  }
  const repos: BuiltRepo[] = [];
  for (const repo of params.repos) {
    const repoType = repo.repoType ?? 'model';
    const paths = repoPaths({ cacheDir, repoType, repoId: repo.repoId });
    await mkdir(paths.blobsDir, { recursive: true });
    await mkdir(paths.snapshotsDir, { recursive: true });
    const revisions: BuiltRevision[] = [];
    let index = 0;
    for (const revision of repo.revisions) {
      const commit = revision.commit ?? fakeCommit(`${repo.repoId}:${index++}`);
      const files: Record<string, BuiltFile> = {};
      for (const [path, raw] of Object.entries(revision.files)) {
        const spec: BuildFile = typeof raw === 'string' || Buffer.isBuffer(raw) ? { content: raw } : raw;
        const content = Buffer.isBuffer(spec.content) ? spec.content : Buffer.from(spec.content);
        const etag = etagFor({ path, content, ...(spec.lfs !== undefined ? { lfs: spec.lfs } : {}) });
        const blobPath = paths.blob(etag);
        const snapshotPath = paths.snapshotFile(commit, path);
        await mkdir(dirname(snapshotPath), { recursive: true });
        if ((repo.layout ?? 'symlink') === 'symlink') {
          await writeFile(blobPath, content);
          await symlink(relative(dirname(snapshotPath), blobPath), snapshotPath);
        } else {
          await writeFile(snapshotPath, content);
        }
        files[path] = { path, etag, size: content.length, blobPath, snapshotPath };
      }
      await mkdir(paths.snapshot(commit), { recursive: true });
      for (const ref of revision.refs ?? []) {
        const refPath = paths.ref(ref);
        await mkdir(dirname(refPath), { recursive: true });
        await writeFile(refPath, commit);
      }
      revisions.push({ commit, refs: revision.refs ?? [], files });
    }
    repos.push({ repoType, repoId: repo.repoId, paths, revisions });
  }
  return { cacheDir, repos };
}

/** A small, typical cache: a GGUF model with two revisions sharing a blob, a nested file, a dataset. */
export async function buildSampleCache(params: { cacheDir: string; layout?: 'symlink' | 'copy' }): Promise<BuiltCache> {
  const layout = params.layout ?? 'symlink';
  return buildCache({
    cacheDir: params.cacheDir,
    repos: [
      {
        repoId: 'org/model',
        layout,
        revisions: [
          {
            refs: ['main'],
            files: {
              'config.json': '{"model_type":"llama"}',
              'model.gguf': Buffer.alloc(4096, 7),
              'onnx/model.onnx': Buffer.alloc(2048, 3),
            },
          },
          {
            refs: ['v1.0', 'refs/pr/1'],
            files: {
              'config.json': '{"model_type":"llama","v":1}',
              'model.gguf': Buffer.alloc(4096, 7),
            },
          },
        ],
      },
      {
        repoType: 'dataset',
        repoId: 'org/data',
        layout,
        revisions: [{ refs: ['main'], files: { 'data/train.parquet': Buffer.alloc(1000, 1), 'README.md': '# data' } }],
      },
    ],
  });
}
