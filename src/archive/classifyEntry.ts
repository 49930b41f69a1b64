/**
 * What one archive entry is to a restore: a blob, a snapshot link, a ref, or
 * nothing we restore. Every safety rule lives here, decided on the entry's
 * name and type before any byte of it is used: absolute names, `..`, names
 * over 4096 bytes, hard links, devices, FIFOs and links that do not resolve to
 * a blob of their own repo are refused, each naming the entry. One kind of
 * hard link is taken, in a plain tar only: a blob whose target is a blob entry
 * of the same name (GNU tar stores the second name of a deduplicated blob so);
 * the caller then copies that blob, verified, from the cache. Nothing is ever
 * written at an entry's name: what an entry becomes is rebuilt from validated
 * parts (repo folder, etag, commit, file path, ref name) by repoPaths.
 */
import { posix } from 'node:path';
import { hashAlgorithmForBlobName } from '../cache/etag.js';
import { repoFilePathProblem } from '../cache/repoFilePath.js';
import { parseRepoFolderName, type RepoRef } from '../cache/repoId.js';
import { isCommitHash, validateRevision } from '../cache/revision.js';
import { quoteInput } from '../quoteInput.js';
import type { TarEntry } from './tarReader.js';

/** Longest entry name accepted (Linux's PATH_MAX); longer is refused as a hostile name. */
export const MAX_ENTRY_NAME_BYTES = 4096;

export type RestoreProblemCode =
  | 'unsafe-path'
  | 'huge-name'
  | 'hard-link'
  | 'device'
  | 'fifo'
  | 'unsupported-type'
  | 'link-escapes'
  | 'not-in-index'
  | 'unverifiable-blob'
  | 'hash-mismatch'
  | 'size-mismatch'
  | 'missing-blob'
  | 'bad-ref'
  | 'not-linked'
  | 'truncated'
  | 'archive';

export type ClassifiedEntry =
  /** `name`: the entry's name, normalised; `prefix`: the folders above the repo folder (where its cache is in the archive). */
  | { kind: 'blob'; folder: string; repo: RepoRef; etag: string; name: string; prefix: string }
  /** A hard link to `target` (normalised), to be a copy of that blob entry if it is one of the same cache and name. */
  | { kind: 'blob-copy'; folder: string; repo: RepoRef; etag: string; name: string; prefix: string; target: string }
  | { kind: 'link'; folder: string; repo: RepoRef; commit: string; path: string; etag: string }
  | { kind: 'ref'; folder: string; repo: RepoRef; name: string }
  | { kind: 'other'; name: string; why: string }
  | { kind: 'refused'; code: RestoreProblemCode; message: string };

const REPO_PARTS = new Set(['blobs', 'snapshots', 'refs']);

export function classifyEntry(params: { entry: TarEntry; indexed: boolean }): ClassifiedEntry {
  const { entry } = params;
  const shown = quoteInput(entry.name, 200);
  const refuse = (code: RestoreProblemCode, why: string): ClassifiedEntry => ({ kind: 'refused', code, message: `${shown}: ${why}` });
  if (Buffer.byteLength(entry.name) > MAX_ENTRY_NAME_BYTES) return refuse('huge-name', `its name is ${Buffer.byteLength(entry.name)} bytes long (at most ${MAX_ENTRY_NAME_BYTES})`);
  if (entry.name.startsWith('/')) return refuse('unsafe-path', 'its name is an absolute path');
  const segments = entry.name.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) return refuse('unsafe-path', 'its name climbs out of the archive with ".."');
  switch (entry.type) {
    case 'hardlink':
      if (params.indexed) return refuse('hard-link', `it is a hard link (to ${quoteInput(entry.linkname, 200)}); a hubcache backup has none`);
      break;
    case 'char-device':
    case 'block-device':
      return refuse('device', 'it is a device file');
    case 'fifo':
      return refuse('fifo', 'it is a FIFO');
    case 'other':
      return refuse('unsupported-type', `its tar type ${quoteInput(entry.typeflag)} is not a file, link or folder`);
    default:
      break;
  }
  const name = segments.join('/');
  const at = repoSegment({ segments, indexed: params.indexed });
  const hardLinkRefused = (): ClassifiedEntry =>
    refuse('hard-link', `it is a hard link (to ${quoteInput(entry.linkname, 200)}); only a second name of a blob, linking to that blob earlier in the archive, is restored`);
  if (entry.type === 'hardlink' && (at === undefined || segments[at + 1] !== 'blobs' || segments.length !== at + 3)) return hardLinkRefused();
  if (at === undefined) {
    if (entry.type === 'symlink' && !linkStaysInside({ name, target: entry.linkname })) return refuse('link-escapes', `it is a link to ${quoteInput(entry.linkname, 200)}, outside the archive`);
    return { kind: 'other', name, why: 'not part of a hub cache repo' };
  }
  const folder = segments[at] as string;
  const repo = parseRepoFolderName({ name: folder }) as RepoRef;
  const rest = segments.slice(at + 1);
  if (rest.length === 0 || entry.type === 'directory') return { kind: 'other', name, why: 'a folder' };
  const part = rest[0];
  if (part === 'blobs' && rest.length === 2) {
    const blobName = rest[1] as string;
    if (entry.type === 'symlink') return refuse('link-escapes', `a blob must be a file, and this is a link to ${quoteInput(entry.linkname, 200)}`);
    if (blobName.endsWith('.incomplete') || blobName.endsWith('.downloadInProgress')) return { kind: 'other', name, why: 'a partial download' };
    if (!hashAlgorithmForBlobName({ name: blobName })) return refuse('unverifiable-blob', 'its name is not a sha256 or git-sha1, so its content cannot be verified');
    const prefix = segments.slice(0, at).join('/');
    if (entry.type === 'hardlink') {
      const target = entry.linkname.split('/').filter((s) => s !== '' && s !== '.');
      if (entry.linkname.startsWith('/') || target.includes('..')) return hardLinkRefused();
      return { kind: 'blob-copy', folder, repo, etag: blobName, name, prefix, target: target.join('/') };
    }
    return { kind: 'blob', folder, repo, etag: blobName, name, prefix };
  }
  if (part === 'snapshots' && rest.length >= 3) {
    const commit = rest[1] as string;
    const path = rest.slice(2).join('/');
    if (!isCommitHash(commit)) return refuse('unsafe-path', 'its snapshot folder is not a commit hash');
    const problem = repoFilePathProblem({ path });
    if (problem) return refuse('unsafe-path', `its file path is unusable (${problem})`);
    if (entry.type !== 'symlink') return { kind: 'other', name, why: 'a copy in snapshots/ (no blob name to verify it against)' };
    const etag = blobOfLink({ path, target: entry.linkname });
    if (etag === undefined) return refuse('link-escapes', `it is a link to ${quoteInput(entry.linkname, 200)}, which is not a blob of its repo`);
    return { kind: 'link', folder, repo, commit, path, etag };
  }
  if (part === 'refs' && rest.length >= 2 && entry.type === 'file') {
    const refName = rest.slice(1).join('/');
    try {
      validateRevision({ revision: refName });
    } catch {
      return refuse('bad-ref', 'its ref name is one git does not allow');
    }
    return { kind: 'ref', folder, repo, name: refName };
  }
  if (entry.type === 'symlink') return refuse('link-escapes', `it is a link to ${quoteInput(entry.linkname, 200)} where the cache layout has none`);
  return { kind: 'other', name, why: 'not a blob, snapshot link or ref' };
}

/**
 * Where the repo folder is: the first segment in an index-led archive (we wrote it);
 * at any depth in a plain tar of a cache or HF_HOME, recognised by a repo folder
 * name followed by blobs/, snapshots/ or refs/ (or standing alone as a folder).
 */
function repoSegment(args: { segments: string[]; indexed: boolean }): number | undefined {
  const { segments } = args;
  const limit = args.indexed ? 1 : segments.length;
  for (let i = 0; i < limit; i++) {
    if (!parseRepoFolderName({ name: segments[i] as string })) continue;
    const next = segments[i + 1];
    if (next === undefined || REPO_PARTS.has(next)) return i;
  }
  return undefined;
}

/** The blob a snapshot link points at, if it resolves to `blobs/<hash-named etag>` of its own repo. */
function blobOfLink(args: { path: string; target: string }): string | undefined {
  const { target } = args;
  if (target === '' || target.startsWith('/') || target.includes('\\') || target.includes('\0')) return undefined;
  // Resolved from the link's folder, with the repo folder as "/": climbing above it leaves the repo.
  const resolved = posix.resolve(`/snapshots/commit/${posix.dirname(args.path)}`, target);
  const match = /^\/blobs\/([^/]+)$/.exec(resolved);
  if (!match || !hashAlgorithmForBlobName({ name: match[1] as string })) return undefined;
  // posix.resolve forgives climbing above "/" ("/../../x" is "/x"): count it ourselves.
  let depth = 2 + posix.dirname(args.path).split('/').filter((s) => s !== '.').length;
  for (const segment of target.split('/')) {
    if (segment === '..') depth -= 1;
    else if (segment !== '' && segment !== '.') depth += 1;
    if (depth < 0) return undefined;
  }
  return match[1];
}

function linkStaysInside(args: { name: string; target: string }): boolean {
  if (args.target.startsWith('/')) return false;
  let depth = args.name.split('/').length - 1;
  for (const segment of args.target.split('/')) {
    if (segment === '..') depth -= 1;
    else if (segment !== '' && segment !== '.') depth += 1;
    if (depth < 0) return false;
  }
  return true;
}
