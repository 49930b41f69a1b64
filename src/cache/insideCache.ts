/**
 * The guard every destructive operation goes through. A path may be removed
 * or rewritten only if it sits inside the cache root both by name and after
 * resolving the links of its parent folders: a `blobs` folder that is a link
 * to /etc must not turn "remove blobs/x" into "remove /etc/x". The entry
 * itself is never followed: removing a link removes the link.
 */
import { realpath, rm, unlink, lstat } from 'node:fs/promises';
import { dirname, relative, resolve, isAbsolute, sep } from 'node:path';
import { HubcacheError } from '../errors.js';

function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

const realRoots = new Map<string, string>();

async function realRoot(cacheDir: string): Promise<string> {
  const key = resolve(cacheDir);
  let real = realRoots.get(key);
  if (!real) {
    real = await realpath(key);
    realRoots.set(key, real);
  }
  return real;
}

export async function assertInsideCache(params: { cacheDir: string; path: string }): Promise<void> {
  const root = resolve(params.cacheDir);
  const path = resolve(params.path);
  const outside = (why: string): never => {
    throw new HubcacheError({
      code: 'E_OUTSIDE_CACHE',
      message: `Refusing to touch ${path}: ${why}`,
      hint: 'hubcache only changes files inside the cache root; check --cache-dir and links in the cache.',
      data: { path, cacheDir: root },
    });
  };
  if (!isWithin(root, path)) outside('it is not inside the cache root');
  let parentReal: string;
  try {
    parentReal = await realpath(dirname(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // nothing there to touch
    throw err;
  }
  const rootReal = await realRoot(root);
  if (parentReal !== rootReal && !isWithin(rootReal, parentReal)) outside(`its folder resolves to ${parentReal}, outside the cache`);
}

/**
 * Removes one entry (file, link, or folder tree with `recursive`) inside the
 * cache. Missing entries are fine: another process may have cleaned them first.
 * Returns the bytes freed as counted by lstat (links count 0, not their target).
 */
export async function removeInsideCache(params: { cacheDir: string; path: string; recursive?: boolean }): Promise<boolean> {
  await assertInsideCache(params);
  try {
    const stats = await lstat(params.path);
    if (stats.isDirectory()) {
      if (!params.recursive) {
        throw new HubcacheError({ code: 'E_INTERNAL', message: `Refusing to remove folder ${params.path} without recursive` });
      }
      // fs.rm does not follow links inside the tree; it unlinks them.
      await rm(params.path, { recursive: true, force: true });
    } else {
      await unlink(params.path);
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
