/**
 * Which repos the mirror has seen served to anonymous clients (public), kept across restarts in
 * hubcache's own folder so an offline mirror still serves them. Losing the file only means those
 * repos are not served offline until upstream is asked again.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { HUBCACHE_DIR_NAME } from '../cache/repoPaths.js';

function filePath(cacheDir: string): string {
  return join(cacheDir, HUBCACHE_DIR_NAME, 'mirror', 'public-repos.json');
}

export async function loadKnownPublic(params: { cacheDir: string }): Promise<string[]> {
  try {
    const parsed = JSON.parse(await readFile(filePath(params.cacheDir), 'utf8')) as unknown;
    return Array.isArray(parsed) ? parsed.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}

export async function saveKnownPublic(params: { cacheDir: string; keys: string[] }): Promise<void> {
  const path = filePath(params.cacheDir);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, JSON.stringify(params.keys.sort()));
  await rename(tmp, path);
}
