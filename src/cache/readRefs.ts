/**
 * The one reader of `refs/`: `refs/main`, and nested ones like
 * `refs/refs/pr/1`. Python writes refs without a newline, but hand-made or
 * other tools' refs may carry one, so the content is trimmed.
 *
 * A ref is 40 hex characters, but the file is whatever is on disk: a FIFO
 * would block a plain read forever (and a blocked read ignores SIGTERM), and a
 * 1 GB file would be read whole into memory by every command. So a ref is read
 * through readBoundedFile: non-blocking, regular files only, up to a cap.
 */
import { readdirSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { HubcacheError } from '../errors.js';
import { describeBoundedRead, readBoundedFileSync, type BoundedRead } from './readBoundedFile.js';

export interface RefsReadResult {
  /** ref name (`main`, `refs/pr/1`) -> commit text as found (trimmed). */
  refs: Map<string, string>;
  problems: Array<{ path: string; message: string }>;
}

/** Far above a commit hash plus whitespace; far below anything that costs time to read. */
export const MAX_REF_BYTES = 4096;

const IGNORED = new Set(['.DS_Store']);

/**
 * Reads one ref; undefined when absent (or a folder: `refs/refs` is the parent of
 * nested refs, not a ref). A ref that is not a small regular file is
 * E_CACHE_DAMAGED, naming the path.
 */
export async function readRef(params: { refPath: string }): Promise<string | undefined> {
  // Synchronous on purpose: one open, one fstat and one read of at most 4 KiB that cannot
  // block (O_NONBLOCK); a promise round trip per call would cost more than the work.
  return readRefSync(params);
}

export function readRefSync(params: { refPath: string }): string | undefined {
  const { refPath } = params;
  let read: BoundedRead;
  try {
    read = readBoundedFileSync({ path: refPath, maxBytes: MAX_REF_BYTES });
  } catch (err) {
    throw badRef(refPath, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
  }
  if (read.status === 'absent' || read.status === 'folder') return undefined;
  if (read.status !== 'ok') throw badRef(refPath, `${describeBoundedRead(read, MAX_REF_BYTES)}; a ref holds a 40-character commit hash`);
  return read.bytes.toString('utf8').trim();
}

function badRef(path: string, why: string, cause?: unknown): HubcacheError {
  return new HubcacheError({
    code: 'E_CACHE_DAMAGED',
    message: `The ref ${path} ${why}`,
    hint: 'Remove it (`hubcache verify --fix` removes bad refs), then download the revision again.',
    data: { path },
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * All refs of a repo; a bad ref is a problem of that ref, never a failure of
 * the walk. Synchronous: the scanner calls it in a walk of tens of thousands
 * of tiny fs calls, where promise overhead would dominate.
 */
export function readRefsSync(params: { refsDir: string }): RefsReadResult {
  const refs = new Map<string, string>();
  const problems: RefsReadResult['problems'] = [];
  const walk = (dir: string, prefix: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push({ path: dir, message: `cannot read: ${(err as Error).message}` });
      return;
    }
    for (const entry of entries) {
      if (IGNORED.has(entry.name)) continue;
      const path = join(dir, entry.name);
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        walk(path, name);
      } else if (!entry.isFile()) {
        problems.push({ path, message: 'ref is not a regular file' });
      } else {
        try {
          const commit = readRefSync({ refPath: path });
          if (commit !== undefined) refs.set(name, commit);
        } catch (err) {
          problems.push({ path, message: err instanceof HubcacheError ? err.message : `cannot read ref: ${(err as Error).message}` });
        }
      }
    }
  };
  walk(params.refsDir, '');
  return { refs, problems };
}
