/**
 * The dashboard's page and its static files, shipped in the package's `dashboard/` folder (no
 * CDN, no build step: plain ES modules the browser loads as they are). Read once, served from
 * memory with a strict Content-Security-Policy: the page may only load what this server serves.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply } from '../reply.js';

/** `src/server/dashboard/` and `dist/server/dashboard/` are both three levels below the package root. */
export const DASHBOARD_ASSET_DIR = fileURLToPath(new URL('../../../dashboard/', import.meta.url));

/** Where the page's files are served; a Hub path never has this first segment and one more only. */
export const ASSET_PREFIX = '/hubcache-ui/';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export class DashboardAssets {
  private readonly files = new Map<string, { data: Buffer; type: string }>();

  static async load(params: { dir?: string } = {}): Promise<DashboardAssets> {
    const assets = new DashboardAssets();
    const dir = params.dir ?? DASHBOARD_ASSET_DIR;
    for (const name of await readdir(dir)) {
      const type = TYPES[extname(name)];
      if (type) assets.files.set(name, { data: await readFile(join(dir, name)), type });
    }
    return assets;
  }

  /** `/` is the page; `/hubcache-ui/<file>` its files. Anything else: undefined. */
  reply(params: { rawPath: string }): Reply | undefined {
    const { rawPath } = params;
    let name: string | undefined;
    if (rawPath === '/' || rawPath === '/index.html') name = 'index.html';
    else if (rawPath.startsWith(ASSET_PREFIX)) name = rawPath.slice(ASSET_PREFIX.length);
    if (name === undefined) return undefined;
    const file = this.files.get(name);
    if (!file) return undefined;
    return {
      status: 200,
      headers: { ...SECURITY_HEADERS, 'content-type': file.type, 'content-length': String(file.data.byteLength) },
      body: { kind: 'bytes', data: file.data },
    };
  }
}
