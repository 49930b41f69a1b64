/**
 * Shared by the archive tests: raw tar entries of any type (hostile ones too),
 * what two caches must agree on, and every file a run left outside a folder.
 */
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import { BLOCK_SIZE, paddingOf, paxRecord } from '../../src/archive/tarHeader.js';
import { runCli } from '../helpers/runCli.js';

export interface RawEntry {
  name: string;
  /** tar typeflag: '0' file, '1' hard link, '2' symlink, '3' char device, '5' folder, '6' FIFO. */
  type?: string;
  content?: Buffer | string;
  linkname?: string;
  /** Put the name in a pax record (any length). */
  paxPath?: boolean;
}

function header(fields: { name: string; type: string; size: number; linkname: string }): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  block.write(fields.name.slice(0, 100), 0, 100, 'utf8');
  block.write('0000644\0', 100, 8, 'ascii');
  block.write('0000000\0', 108, 8, 'ascii');
  block.write('0000000\0', 116, 8, 'ascii');
  block.write(`${fields.size.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  block.write(`${Math.floor(Date.now() / 1000).toString(8).padStart(11, '0')}\0`, 136, 12, 'ascii');
  block.write(fields.type, 156, 1, 'ascii');
  block.write(fields.linkname.slice(0, 100), 157, 100, 'utf8');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** A tar archive of exactly these entries (no checks: tests build hostile ones with it). */
export function rawTar(entries: RawEntry[], params: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.content === undefined ? Buffer.alloc(0) : Buffer.from(entry.content);
    if (entry.paxPath) {
      const pax = Buffer.from(paxRecord('path', entry.name));
      parts.push(header({ name: 'PaxHeaders/x', type: 'x', size: pax.length, linkname: '' }), pax, Buffer.alloc(paddingOf(pax.length)));
    }
    parts.push(header({ name: entry.name, type: entry.type ?? '0', size: content.length, linkname: entry.linkname ?? '' }), content, Buffer.alloc(paddingOf(content.length)));
  }
  if (params.end !== false) parts.push(Buffer.alloc(2 * BLOCK_SIZE));
  return Buffer.concat(parts);
}

/** `ls --json --files` with the parts that name the folder taken out, so two caches compare. */
export async function lsForCompare(cacheDir: string, repos?: string[]): Promise<unknown> {
  const result = await runCli({ args: ['ls', '--json', '--files', '--cache-dir', cacheDir] });
  if (result.code !== 0) throw new Error(result.stderr);
  const data = result.json<{ repos: Array<Record<string, unknown> & { folderName: string; revisions: Array<Record<string, unknown>> }> }>();
  return data.repos
    .filter((r) => repos === undefined || repos.includes(r.folderName))
    .map(({ repoPath: _p, revisions, ...repo }) => ({ ...repo, revisions: revisions.map(({ snapshotPath: _s, ...rev }) => rev) }));
}

/** @huggingface/hub's scan, minus paths and times. */
export async function hfjsScan(cacheDir: string): Promise<unknown> {
  const info = await scanCacheDir(cacheDir);
  return {
    warnings: info.warnings.map((w) => w.message),
    repos: [...info.repos]
      .map((r) => ({
        id: `${r.id.type}/${r.id.name}`,
        size: r.size,
        filesCount: r.filesCount,
        revisions: [...r.revisions].map((v) => ({ commit: v.commitOid, size: v.size, files: [...v.files].map((f) => `${relative(v.path, f.path)}:${f.blob.size}`).sort(), refs: [...v.refs].sort() })).sort((a, b) => (a.commit < b.commit ? -1 : 1)),
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
}

/** Every path under `dir` (relative), links not followed. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(current: string): Promise<void> {
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const path = join(current, entry.name);
      out.push(relative(dir, path));
      if (entry.isDirectory()) await walk(path);
    }
  }
  await walk(dir);
  return out.sort();
}

export function hasGnuTar(): boolean {
  return spawnSync('/bin/tar', ['--version'], { encoding: 'utf8' }).stdout?.includes('GNU tar') === true;
}
