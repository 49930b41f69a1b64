/**
 * Runs a `relink` plan item: an absolute snapshot link becomes a relative one
 * to the same place. Re-checked first, like every item: the entry must still
 * be a link, still absolute, and still lead where the planned text leads; a
 * link that changed since planning is someone else's new link and is kept.
 */
import type { Stats } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { PlanItem } from './plan.js';
import { replaceLink } from './replaceLink.js';

export async function relinkItem(params: { cacheDir: string; item: PlanItem; stats: Stats }): Promise<{ status: 'removed' | 'skipped'; bytesFreed: number; detail?: string }> {
  const { item } = params;
  if (!params.stats.isSymbolicLink() || item.linkText === undefined) return { status: 'skipped', bytesFreed: 0, detail: 'no longer a link' };
  const now = await readlink(item.path);
  if (!isAbsolute(now) || resolve(now) !== resolve(dirname(item.path), item.linkText)) {
    return { status: 'skipped', bytesFreed: 0, detail: `the link now reads ${now}, changed since planning` };
  }
  await replaceLink({ cacheDir: params.cacheDir, path: item.path, text: item.linkText });
  return { status: 'removed', bytesFreed: 0, detail: `rewritten as ${item.linkText}` };
}
