/**
 * Loads our own Node-API addon (native/flock.c, built by node-gyp at `npm
 * install`) that exposes flock(2). Node has no flock, and Python's filelock and
 * util-linux flock lock the hub cache with exactly that call, so nothing else
 * would exclude them.
 *
 * Loaded lazily: commands that never lock (ls, path) keep working even when the
 * addon was not built, and the error only appears where a lock is needed. The
 * scan uses the same addon when it is there (listTrees) and walks in JavaScript
 * when it is not.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { HubcacheError } from '../errors.js';

export interface FlockBinding {
  /** Returns 0 or throws an Error whose `code` is the errno name (EAGAIN, EBADF, EINTR...). */
  flock(fd: number, op: number): number;
  readonly LOCK_SH: number;
  readonly LOCK_EX: number;
  readonly LOCK_UN: number;
  readonly LOCK_NB: number;
  /** The scan's batched folder reads (native/listTree.c, see dirListing.ts); absent from builds older than that file. */
  readonly listTrees?: ListTreesNative;
  /** The summary scan of usual repos (native/repoSummary.c, see repoSummaries.ts); absent from builds older than that file. */
  readonly summarizeRepos?: SummarizeReposNative;
  /** glibc keeps freed memory for reuse (native/tuneMalloc.c; serve calls it at start); false where that is not glibc; absent from builds older than that file. */
  readonly tuneMalloc?: () => boolean;
  /** The download ring's writer and hasher threads (native/ring.c, see ringWriter.ts); absent from builds older than that file. */
  readonly ringCreate?: RingNative['ringCreate'];
  readonly ringTarget?: RingNative['ringTarget'];
  readonly ringSubmit?: RingNative['ringSubmit'];
  readonly ringFinish?: RingNative['ringFinish'];
  readonly ringClose?: RingNative['ringClose'];
}

/**
 * The ring's native side (native/ring.c). Every call but ringCreate queues a job under the caller's
 * `id`; `onDone(id, errno, message, digest)` reports it once every thread it went to is done
 * (errno: a positive errno, or -1 for a failure that only has a message).
 */
export interface RingNative {
  ringCreate(slots: number, slotBytes: number, onDone: (id: number, errno: number | undefined, message: string | undefined, digest: string | undefined) => void): [object, ArrayBuffer];
  ringTarget(handle: object, id: number, path: string, prefixBytes: number, algorithm: number, size: number): void;
  ringSubmit(handle: object, id: number, index: number, length: number, position: number): void;
  ringFinish(handle: object, id: number): void;
  ringClose(handle: object, id: number): void;
}

/**
 * summarizeRepos(repoPaths, threads): per repo `[text, numbers]` (see
 * repoSummaries.ts), or undefined where the JavaScript repo walk must scan it.
 */
export type SummarizeReposNative = (repoPaths: string[], threads: number) => Array<[string, Float64Array] | undefined>;

/**
 * listTrees(dirs, recursive, skipName, threads): per folder `[text, kinds,
 * numbers]` (see DirListing: text is the NUL-terminated fields), or undefined
 * where the JavaScript walker must list that folder instead.
 */
export type ListTreesNative = (
  dirs: string[],
  recursive: boolean,
  skipName: string | undefined,
  threads: number,
) => Array<[string, Uint8Array, Float64Array] | undefined>;

const ADDON_RELATIVE_PATH = join('build', 'Release', 'hubcache_flock.node');

let cached: FlockBinding | undefined;

/**
 * The directory holding our package.json. Walking up (instead of a fixed
 * `../..`) keeps this right from `src/cache/` under vitest/tsx, from
 * `dist/cache/`, and if a bundler ever moves this module to another depth.
 */
export function findPackageRoot(params: { from?: string } = {}): string | undefined {
  let dir = params.from ?? dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const name = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
        if (name === 'hubcache') return dir;
      } catch {
        // An unreadable or foreign package.json on the way up is not ours: keep climbing.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Loads the addon from `<packageRoot>/build/Release/hubcache_flock.node`.
 * `packageRoot` is for tests; the default is the package this module ships in.
 */
export function loadFlockBinding(params: { packageRoot?: string } = {}): FlockBinding {
  if (params.packageRoot === undefined && cached) return cached;
  const root = params.packageRoot ?? findPackageRoot();
  const addonPath = root === undefined ? undefined : join(root, ADDON_RELATIVE_PATH);
  let binding: FlockBinding;
  try {
    if (addonPath === undefined) throw new Error('package root of hubcache not found');
    binding = createRequire(import.meta.url)(addonPath) as FlockBinding;
  } catch (err) {
    throw new HubcacheError({
      code: 'E_INTERNAL',
      message: `The native flock addon could not be loaded${addonPath ? ` from ${addonPath}` : ''}`,
      hint:
        'Run `npm rebuild` in the hubcache package (it needs a C compiler, make and python3) so node-gyp builds build/Release/hubcache_flock.node; installing with --ignore-scripts skips that build.',
      data: { path: addonPath ?? '' },
      cause: err,
    });
  }
  if (typeof binding.flock !== 'function' || typeof binding.LOCK_EX !== 'number') {
    // A stale build from another version of native/flock.c would fail later in
    // confusing ways; say so here instead.
    throw new HubcacheError({
      code: 'E_INTERNAL',
      message: `The native flock addon at ${addonPath} does not export flock()`,
      hint: 'Run `npm rebuild` in the hubcache package to rebuild it from native/flock.c.',
      data: { path: addonPath ?? '' },
    });
  }
  if (params.packageRoot === undefined) cached = binding;
  return binding;
}

type OptionalNativeName = 'listTrees' | 'summarizeRepos' | 'tuneMalloc';
/** Looked up once each: the addon's function, or null when the addon is missing or older than it. */
const optionalNatives = new Map<OptionalNativeName, unknown>();

/** One of the addon's optional functions, or undefined when the addon is missing or was built before it (the caller walks in JavaScript). */
export function optionalNative<K extends OptionalNativeName>(name: K): NonNullable<FlockBinding[K]> | undefined {
  if (!optionalNatives.has(name)) {
    let found: unknown;
    try {
      found = loadFlockBinding()[name] ?? null;
    } catch {
      found = null;
    }
    optionalNatives.set(name, found);
  }
  return (optionalNatives.get(name) ?? undefined) as NonNullable<FlockBinding[K]> | undefined;
}
