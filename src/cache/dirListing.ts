/**
 * The scan's reads of one folder, done in one go before any rule is applied:
 * a repo's `blobs/` (every entry lstat'ed) or a whole snapshot folder
 * (recursively; links readlink'ed, regular files lstat'ed). readRepoBlobs and
 * scanSnapshotDir apply the rules to the listing, whoever made it.
 *
 * Two makers, one answer: the addon's `listTree` (native/listTree.c), which
 * uses readlinkat/fstatat relative to an open folder instead of 30k calls
 * that each walk the path from the root, and the JavaScript walker here,
 * used when the addon is not built and for whatever `listTree` declines (a
 * name that is not UTF-8, an unreadable subfolder). test/cache/dirListing.test.ts
 * checks they agree.
 */
import { lstatSync, readdirSync, readlinkSync, type Dirent, type Stats } from 'node:fs';
import type { CacheWarning } from './cacheScan.js';
import { loadFlockBinding, type ListTreeNative } from './flock.js';
import { readDirOrWarn } from './readDirOrWarn.js';

/** What an entry is; the numbers are native/listTree.c's. */
export const ENTRY = {
  /** A regular file: its lstat numbers are set. */
  file: 0,
  /** A symbolic link: its target is set (in blobs/: its lstat numbers too). */
  link: 1,
  /** Anything else: a fifo, a socket, a device (in blobs/: also a folder). */
  other: 2,
  /** A file (in blobs/: any entry) whose lstat failed: gone since the readdir. */
  fileGone: 3,
  /** A link whose readlink failed: gone since the readdir. */
  linkGone: 4,
  /** A subfolder that could not be read: its target field holds the warning's message. */
  unreadable: 5,
} as const;

/**
 * Entry i: `fields[2i]` its path inside the listed folder ("/" separators),
 * `fields[2i+1]` its link target ("" when not a link), `kinds[i]` an ENTRY
 * value, `numbers[3i..3i+2]` its lstat size, atimeMs and mtimeMs (0 when not
 * read). Entries come in readdirSync's order (sorted by bytes), a folder's
 * entries right where the folder is (depth first), folders themselves omitted.
 */
export interface DirListing {
  count: number;
  fields: string[];
  kinds: Uint8Array;
  numbers: Float64Array;
}

const IGNORED_NAMES = new Set(['.DS_Store']);

export interface ListParams {
  dir: string;
  /** Where an unreadable `dir` is reported (a missing one is just empty). */
  warnings: CacheWarning[];
  /** false: the JavaScript walker even when the addon is built (for tests comparing the two). */
  native?: boolean;
}

/** `blobs/`: every entry, lstat'ed (its kind is the lstat's). */
export function listBlobsDir(params: ListParams): DirListing {
  const native = params.native === false ? undefined : nativeListTree();
  return (native && fromNative(native(params.dir, false, undefined))) ?? listBlobsDirJs(params);
}

/** A snapshot folder, recursively, without `.DS_Store` entries. */
export function listSnapshotTree(params: ListParams): DirListing {
  const native = params.native === false ? undefined : nativeListTree();
  return (native && fromNative(native(params.dir, true, '.DS_Store'))) ?? listSnapshotTreeJs(params);
}

/** The addon's listTree, or undefined when the addon is missing or older than listTree.c. */
export function nativeListTree(): ListTreeNative | undefined {
  if (binding === undefined) {
    try {
      binding = loadFlockBinding().listTree ?? null;
    } catch {
      binding = null;
    }
  }
  return binding ?? undefined;
}

let binding: ListTreeNative | null | undefined;

function fromNative(result: ReturnType<ListTreeNative>): DirListing | undefined {
  if (result === undefined) return undefined;
  const [text, kinds, numbers] = result;
  // The text ends with a NUL, so split leaves one empty string after the last field.
  return { count: kinds.length, fields: kinds.length === 0 ? [] : text.split('\0'), kinds, numbers };
}

class ListingBuilder {
  fields: string[] = [];
  kinds: number[] = [];
  numbers: number[] = [];

  add(path: string, kind: number, target = '', stats?: Stats): void {
    this.fields.push(path, target);
    this.kinds.push(kind);
    if (stats) this.numbers.push(stats.size, stats.atimeMs, stats.mtimeMs);
    else this.numbers.push(0, 0, 0);
  }

  done(): DirListing {
    return { count: this.kinds.length, fields: this.fields, kinds: Uint8Array.from(this.kinds), numbers: Float64Array.from(this.numbers) };
  }
}

function listBlobsDirJs(params: ListParams): DirListing {
  const out = new ListingBuilder();
  for (const entry of readDirOrWarn({ dir: params.dir, warnings: params.warnings })) {
    let stats: Stats;
    try {
      stats = lstatSync(`${params.dir}/${entry.name}`);
    } catch {
      out.add(entry.name, ENTRY.fileGone);
      continue;
    }
    out.add(entry.name, stats.isFile() ? ENTRY.file : stats.isSymbolicLink() ? ENTRY.link : ENTRY.other, '', stats);
  }
  return out.done();
}

function listSnapshotTreeJs(params: ListParams): DirListing {
  const out = new ListingBuilder();
  const walk = (dir: string, prefix: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      const message = `cannot read: ${(err as Error).message}`;
      // The top folder's problem is the caller's warning; a subfolder's keeps its place among the entries.
      if (prefix === '') params.warnings.push({ code: 'unreadable', path: dir, message });
      else out.add(prefix, ENTRY.unreadable, message);
      return;
    }
    for (const entry of entries) {
      if (IGNORED_NAMES.has(entry.name)) continue;
      const path = `${dir}/${entry.name}`;
      const relPath = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        walk(path, relPath);
      } else if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = readlinkSync(path);
        } catch {
          out.add(relPath, ENTRY.linkGone);
          continue;
        }
        out.add(relPath, ENTRY.link, target);
      } else if (entry.isFile()) {
        const stats = lstatSync(path, { throwIfNoEntry: false });
        out.add(relPath, stats ? ENTRY.file : ENTRY.fileGone, '', stats);
      } else {
        out.add(relPath, ENTRY.other);
      }
    }
  };
  walk(params.dir, '');
  return out.done();
}
