/**
 * The scan's reads of a repo's folders, done in one go before any rule is
 * applied: `blobs/` (every entry lstat'ed) and `snapshots/` (recursively;
 * links readlink'ed, regular files lstat'ed). readRepoBlobs, scanRepo and
 * scanSnapshotDir apply the rules to the listing, whoever made it.
 *
 * Two makers, one answer: the addon's `listTrees` (native/listTree.c), which
 * lists the folders of every repo in one call, on two threads, with
 * readlinkat/fstatat relative to an open folder instead of 30k calls that
 * each walk the path from the root; and the JavaScript walker here, used when
 * the addon is not built and for whatever `listTrees` declines (a name that is
 * not UTF-8, an unreadable subfolder). test/cache/dirListing.test.ts checks
 * they agree.
 */
import { lstatSync, readdirSync, readlinkSync, type Dirent, type Stats } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { CacheWarning } from './cacheScan.js';
import { join } from 'node:path';
import { optionalNative, type ListTreesNative } from './flock.js';
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
  /** A folder (snapshots/ only): its entries follow it. */
  dir: 5,
  /** Right after a folder's entry (JavaScript walker only): it could not be read; the target field holds why. */
  unreadable: 6,
} as const;

/**
 * Entry i: `fields[2i]` its path inside the listed folder ("/" separators),
 * `fields[2i+1]` its link target ("" when not a link), `kinds[i]` an ENTRY
 * value, `numbers[3i..3i+2]` its lstat size, atimeMs and mtimeMs (0 when not
 * read). Entries come in readdirSync's order (sorted by bytes), a folder's
 * entries right after the folder's own entry (depth first).
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
  /** What listRepoFolders already read for `dir`; undefined: read it now. */
  prefetched?: DirListing | undefined;
}

/** `blobs/`: every entry, lstat'ed (its kind is the lstat's). */
export function listBlobsDir(params: ListParams): DirListing {
  return params.prefetched ?? nativeList(params, false) ?? listBlobsDirJs(params);
}

/** `snapshots/`, recursively, without `.DS_Store` entries. */
export function listSnapshotsTree(params: ListParams): DirListing {
  return params.prefetched ?? nativeList(params, true) ?? listSnapshotsTreeJs(params);
}

export interface RepoListings {
  /** Undefined where the addon declined (the JavaScript walker lists it then). */
  blobs: DirListing | undefined;
  snapshots: DirListing | undefined;
}

/**
 * The `blobs/` and `snapshots/` listings of many repos, read by the addon in
 * two calls on up to two threads; undefined without the addon.
 */
export function listRepoFolders(params: { repoPaths: string[] }): RepoListings[] | undefined {
  const listTrees = nativeListTrees();
  if (!listTrees) return undefined;
  const threads = Math.min(2, availableParallelism());
  const blobs = listTrees(params.repoPaths.map((path) => join(path, 'blobs')), false, undefined, threads);
  const snapshots = listTrees(params.repoPaths.map((path) => join(path, 'snapshots')), true, SKIPPED_NAME, threads);
  return params.repoPaths.map((_, i) => ({ blobs: fromNative(blobs[i]), snapshots: fromNative(snapshots[i]) }));
}

/** The addon's listTrees, or undefined when the addon is missing or older than listTree.c. */
export function nativeListTrees(): ListTreesNative | undefined {
  return optionalNative('listTrees');
}

/** The one name the native walker skips, as IGNORED_NAMES has it. */
const SKIPPED_NAME = '.DS_Store';

function nativeList(params: ListParams, recursive: boolean): DirListing | undefined {
  const listTrees = params.native === false ? undefined : nativeListTrees();
  return listTrees && fromNative(listTrees([params.dir], recursive, recursive ? SKIPPED_NAME : undefined, 1)[0]);
}

function fromNative(result: ReturnType<ListTreesNative>[number]): DirListing | undefined {
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

function listSnapshotsTreeJs(params: ListParams): DirListing {
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
        out.add(relPath, ENTRY.dir);
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
