/**
 * Finds and reads the manifest: `-f FILE`, else `$HUBCACHE_MANIFEST` (passed
 * in by the CLI from Config), else `./hubcache.yaml`. A file named
 * explicitly must exist; the default one is optional unless `required`.
 */
import { resolve } from 'node:path';
import { HubcacheError } from '../errors.js';
import { describeBoundedRead, readBoundedFileSync } from '../cache/readBoundedFile.js';
import { MANIFEST_FILE_NAME, type Manifest } from './manifest.js';

export interface LoadManifestParams {
  /** `-f FILE`. */
  path?: string | undefined;
  /** `$HUBCACHE_MANIFEST` (Config.manifestPath). */
  envPath?: string | undefined;
  /** Folder holding the default `hubcache.yaml` (default: the process's working folder). */
  cwd?: string;
  /** Throw E_MANIFEST when no manifest is found (sync, env) instead of returning undefined (ls, prune). */
  required: boolean;
}

export interface ManifestLocation {
  path: string;
  displayPath: string;
  source: 'flag' | 'env' | 'default';
}

export function locateManifest(params: Omit<LoadManifestParams, 'required'>): ManifestLocation {
  const cwd = params.cwd ?? process.cwd();
  const given = params.path ?? params.envPath;
  const source = params.path !== undefined ? 'flag' : params.envPath !== undefined ? 'env' : 'default';
  const path = resolve(cwd, given ?? MANIFEST_FILE_NAME);
  // Messages name the file the way the user did.
  return { path, displayPath: given ?? MANIFEST_FILE_NAME, source };
}

export async function loadManifest(params: LoadManifestParams & { required: true }): Promise<Manifest>;
export async function loadManifest(params: LoadManifestParams): Promise<Manifest | undefined>;
export async function loadManifest(params: LoadManifestParams): Promise<Manifest | undefined> {
  const location = locateManifest(params);
  let text: string;
  try {
    text = await readManifestText({ path: location.path });
  } catch (err) {
    if (err instanceof HubcacheError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOENT' || code === 'ENOTDIR') && location.source === 'default' && !params.required) return undefined;
    const why = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${code ?? (err as Error).message})`;
    throw new HubcacheError({
      code: 'E_MANIFEST',
      message: `Manifest ${location.displayPath} ${why}${location.source === 'env' ? ' (named by $HUBCACHE_MANIFEST)' : ''}`,
      hint:
        location.source === 'default'
          ? `Create ${MANIFEST_FILE_NAME} here, or name one with -f FILE or $HUBCACHE_MANIFEST (see \`hubcache sync --help\`).`
          : 'Check the path; relative paths are relative to the current folder.',
      data: { path: location.path },
      cause: err,
    });
  }
  // The YAML parser is loaded only when there is a manifest: `ls` and `prune` look for one on
  // every run, and most caches have none.
  const { parseManifest } = await import('./parseManifest.js');
  return parseManifest({ text, path: location.path, displayPath: location.displayPath });
}

/** A manifest lists services and models: a few KiB. Anything near this is not one. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** The manifest's text if it is a regular file under the cap; the OS's errors (ENOENT...) pass through. */
async function readManifestText(params: { path: string }): Promise<string> {
  const read = readBoundedFileSync({ path: params.path, maxBytes: MAX_MANIFEST_BYTES });
  if (read.status === 'ok') return read.bytes.toString('utf8');
  if (read.status === 'absent') throw Object.assign(new Error('not found'), { code: 'ENOENT' });
  if (read.status === 'folder') throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
  throw new HubcacheError({
    code: 'E_MANIFEST',
    message: `Manifest ${params.path} ${describeBoundedRead(read, MAX_MANIFEST_BYTES)}`,
    hint: 'Name the YAML file itself with -f FILE or $HUBCACHE_MANIFEST.',
    data: { path: params.path },
  });
}
