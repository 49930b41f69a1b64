/**
 * Links where the layout expects real entries. hubcache reads through them as
 * Python does (a blob that is a link to another disk is a blob; a linked
 * blobs/ folder holds the repo's blobs), but says so: what they point to is
 * not the cache's, so nothing that changes the cache may act through them.
 */
import { lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';

/** A scan warning (structurally a CacheWarning; declared here so the scan's files do not import each other in a circle). */
export interface LinkedEntryWarning {
  code: 'linked-folder' | 'linked-blob';
  path: string;
  message: string;
}

/** The repo's layout folders that are links (each a `linked-folder` warning). */
export function linkedFolderWarnings(params: { dirs: string[] }): LinkedEntryWarning[] {
  const warnings: LinkedEntryWarning[] = [];
  for (const dir of params.dirs) {
    const stats = lstatSync(dir, { throwIfNoEntry: false });
    if (!stats?.isSymbolicLink()) continue;
    const target = readlinkSync(dir, { encoding: 'utf8' });
    warnings.push({
      code: 'linked-folder',
      path: dir,
      message: `this folder is a link to ${target}: hubcache reads through it but never changes anything there (replace it with a real folder to let verify --fix, gc and rm work on it)`,
    });
  }
  return warnings;
}

/**
 * A blob entry that is a link: the stats of what it resolves to when that is
 * a regular file (it then counts as the blob), with a `linked-blob` warning
 * either way.
 */
export function linkedBlob(params: { path: string; warnings: Array<{ code: string; path: string; message: string }> }): Stats | undefined {
  const target = readlinkSync(params.path, { encoding: 'utf8' });
  const stats = statSync(params.path, { throwIfNoEntry: false });
  const ok = stats?.isFile() === true;
  const warning: LinkedEntryWarning = {
    code: 'linked-blob',
    path: params.path,
    message: ok
      ? `blob is a link to ${target}: read (and verified) through the link; hubcache never changes the file it points to`
      : `blob is a link to ${target}, which is not a readable file: the files linking to this blob are missing`,
  };
  params.warnings.push(warning);
  return ok ? stats : undefined;
}
