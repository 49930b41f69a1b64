/**
 * The group a shared cache is shared with: `--group NAME|GID`, else the group
 * of the cache root (the usual setup: a volume whose root belongs to the
 * group every container user is in). Node has no getgrnam, so names come
 * from /etc/group, which is what containers without NSS have anyway.
 */
import { readFile, stat } from 'node:fs/promises';
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';

export interface SharedGroup {
  gid: number;
  /** From /etc/group, when listed there. */
  name: string | undefined;
}

export async function resolveGroup(params: { cacheDir: string; group?: string; groupFile?: string }): Promise<SharedGroup> {
  const groups = await readGroupFile({ path: params.groupFile ?? '/etc/group' });
  const nameOf = (gid: number): string | undefined => [...groups].find(([, g]) => g === gid)?.[0];
  if (params.group === undefined || params.group === '') {
    const gid = (await stat(params.cacheDir)).gid;
    return { gid, name: nameOf(gid) };
  }
  if (/^\d+$/.test(params.group)) {
    const gid = Number(params.group);
    return { gid, name: nameOf(gid) };
  }
  const gid = groups.get(params.group);
  if (gid === undefined) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `Unknown group ${quoteInput(params.group)}`,
      hint: 'Give a group listed in /etc/group, or its numeric id (--group 1000).',
      data: { group: params.group },
    });
  }
  return { gid, name: params.group };
}

async function readGroupFile(params: { path: string }): Promise<Map<string, number>> {
  const groups = new Map<string, number>();
  const text = await readFile(params.path, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name && gid !== undefined && /^\d+$/.test(gid) && !groups.has(name)) groups.set(name, Number(gid));
  }
  return groups;
}
