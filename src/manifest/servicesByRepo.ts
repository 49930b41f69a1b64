/** Which services of a manifest use each repo (for `ls`), keyed by repo folder name. */
import { repoFolderName } from '../cache/repoId.js';
import type { Manifest } from './manifest.js';

export function servicesByRepo(params: { manifest: Manifest }): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const service of params.manifest.services) {
    for (const model of service.models) {
      const folder = repoFolderName(model);
      const list = map.get(folder) ?? [];
      if (!list.includes(service.name)) list.push(service.name);
      map.set(folder, list);
    }
  }
  return map;
}
