/** Links in a service's folder that no declared link names; only links are touched, never files. */
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { assertServiceLinkFolder } from './assertServiceLinkFolder.js';
import type { ManifestService } from './manifest.js';
import { LINKS_DIR_NAME } from './serviceLinkPath.js';

export async function staleServiceLinks(params: { hfHome: string; service: ManifestService; remove: boolean }): Promise<string[]> {
  const dir = join(params.hfHome, LINKS_DIR_NAME, params.service.name);
  // Checked again right before listing: a folder swapped for a link since sync started must not be listed through.
  await assertServiceLinkFolder({ serviceDir: dir });
  const declared = new Set(params.service.models.flatMap((m) => m.links.map((l) => l.name)));
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const stale: string[] = [];
  for (const entry of entries) {
    // Dot names are other syncs' temp links, mid-swap.
    if (entry.name.startsWith('.') || declared.has(entry.name) || !entry.isSymbolicLink()) continue;
    const path = join(dir, entry.name);
    if (params.remove) await unlink(path).catch(() => undefined);
    stale.push(path);
  }
  return stale.sort();
}
