/** Pure rules on container paths (POSIX) shared by the compose checks. */
import { posix } from 'node:path';
import type { ComposeMount, ComposeService } from './parseComposeFile.js';

/** The mount of `service` whose target holds `path` (the deepest one), if any. */
export function mountContaining(service: ComposeService, path: string): ComposeMount | undefined {
  let best: ComposeMount | undefined;
  for (const mount of service.mounts) {
    if (mount.key === undefined || !isWithin(mount.target, path)) continue;
    if (!best || mount.target.length > best.target.length) best = mount;
  }
  return best;
}

/** `path` is `root` or inside it (container paths: POSIX). */
export function isWithin(root: string, path: string): boolean {
  const rel = posix.relative(posix.normalize(root), posix.normalize(path));
  return rel === '' || (!rel.startsWith('../') && rel !== '..' && !posix.isAbsolute(rel));
}

/** The most common value; ties go to `preferred`, then to the first seen. */
export function majority(values: string[], preferred: string | undefined): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  for (const [v, n] of counts) {
    const bestN = best === undefined ? -1 : (counts.get(best) as number);
    if (n > bestN || (n === bestN && v === preferred)) best = v;
  }
  return best;
}

/** Without HF_* variables, huggingface_hub uses ~/.cache/huggingface: fine when that is the mount. */
export function defaultHub(target: string): string | undefined {
  if (/\/\.cache\/huggingface\/?$/.test(target)) return posix.join(target, 'hub');
  if (/\/\.cache\/huggingface\/hub\/?$/.test(target)) return posix.normalize(target);
  return undefined;
}

export function defaultHome(target: string): string | undefined {
  const hub = defaultHub(target);
  return hub === undefined ? undefined : posix.dirname(hub);
}
