/**
 * Deterministic incompressible bytes of any size, materialised once on disk so
 * multi-GiB fixtures cost one write per machine, not one per test.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BlobHashes } from './hashBlob.js';

export interface GeneratedFile extends BlobHashes {
  path: string;
}

const CHUNK = 8 * 1024 * 1024;
const inProcess = new Map<string, Promise<GeneratedFile>>();

/** Default folder: shared by every test process on the machine, survives between runs. */
export function generatedFilesDir(): string {
  return join(tmpdir(), 'hubcache-origin-bytes');
}

/**
 * AES-256-CTR keystream keyed by the seed: the same (seed, size) gives the same
 * bytes everywhere, and a prefix of a longer file equals the shorter file.
 */
export async function generatedFile(params: { size: number; seed?: string; dir?: string }): Promise<GeneratedFile> {
  const { size } = params;
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`generated file size must be a non-negative integer: ${size}`);
  const seed = params.seed ?? 'hubcache';
  const dir = params.dir ?? generatedFilesDir();
  const seedId = createHash('sha256').update(seed).digest('hex').slice(0, 16);
  const path = join(dir, `${seedId}-${size}.bin`);
  let pending = inProcess.get(path);
  if (pending === undefined) {
    pending = reuseOrCreate({ path, size, seed });
    inProcess.set(path, pending);
    pending.catch(() => inProcess.delete(path));
  }
  return pending;
}

async function reuseOrCreate(params: { path: string; size: number; seed: string }): Promise<GeneratedFile> {
  const existing = await readSidecar(params);
  if (existing) return existing;
  await mkdir(dirname(params.path), { recursive: true });
  // Other test processes may generate the same file at the same moment: each
  // writes its own temp file and renames it into place, so readers only ever
  // see a complete file (identical content makes the last rename harmless).
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const tmp = `${params.path}.${tag}.tmp`;
  try {
    const hashes = await writeKeystream({ path: tmp, size: params.size, seed: params.seed });
    await rename(tmp, params.path);
    const sidecarTmp = `${params.path}.json.${tag}.tmp`;
    await writeFile(sidecarTmp, JSON.stringify(hashes));
    await rename(sidecarTmp, `${params.path}.json`);
    return { path: params.path, ...hashes };
  } finally {
    await rm(tmp, { force: true });
  }
}

async function readSidecar(params: { path: string; size: number }): Promise<GeneratedFile | undefined> {
  try {
    const hashes = JSON.parse(await readFile(`${params.path}.json`, 'utf8')) as BlobHashes;
    const info = await stat(params.path);
    if (info.size !== params.size || hashes.size !== params.size) return undefined;
    return { path: params.path, size: hashes.size, sha256: hashes.sha256, gitSha1: hashes.gitSha1 };
  } catch {
    return undefined;
  }
}

/** Writes `size` incompressible bytes (AES-256-CTR keystream of `seed`) and returns their hashes. */
export async function writeKeystream(params: { path: string; size: number; seed: string }): Promise<BlobHashes> {
  const key = createHash('sha256').update(`hubcache-origin-bytes\0${params.seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(Math.min(CHUNK, Math.max(params.size, 1)));
  const sha1 = createHash('sha1').update(`blob ${params.size}\0`);
  const sha256 = createHash('sha256');
  const handle = await open(params.path, 'w');
  try {
    let written = 0;
    while (written < params.size) {
      const n = Math.min(zeros.byteLength, params.size - written);
      const chunk = cipher.update(n === zeros.byteLength ? zeros : zeros.subarray(0, n));
      sha1.update(chunk);
      sha256.update(chunk);
      await handle.write(chunk, 0, chunk.byteLength);
      written += chunk.byteLength;
    }
  } finally {
    await handle.close();
  }
  return { size: params.size, sha256: sha256.digest('hex'), gitSha1: sha1.digest('hex') };
}
