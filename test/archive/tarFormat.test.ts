/**
 * The tar format both ways against GNU tar: what TarWriter writes (long names,
 * long link targets, pax records) GNU tar lists and extracts as written, and
 * TarReader reads what GNU tar writes in its default (gnu, `L`/`K` long names)
 * and pax formats.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ByteReader } from '../../src/archive/byteReader.js';
import { paxRecord } from '../../src/archive/tarHeader.js';
import { TarReader, type TarEntry } from '../../src/archive/tarReader.js';
import { TarWriter } from '../../src/archive/tarWriter.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { hasGnuTar } from './archiveHelpers.js';

const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(60)}`;
const longName = `${longDir}/${'g'.repeat(120)}.bin`;
const longTarget = `${'../'.repeat(40)}blobs/${'a'.repeat(64)}`;

async function readAll(bytes: Buffer): Promise<Array<TarEntry & { content: string }>> {
  async function* chunks(): AsyncGenerator<Buffer> {
    // Odd chunk sizes: headers and contents straddle chunk boundaries.
    for (let i = 0; i < bytes.length; i += 777) yield bytes.subarray(i, i + 777);
  }
  const reader = new TarReader(new ByteReader(chunks()));
  const out: Array<TarEntry & { content: string }> = [];
  for (let entry = await reader.next(); entry; entry = await reader.next()) {
    out.push({ ...entry, content: entry.type === 'file' ? (await reader.readContentBuffer()).toString('utf8') : '' });
  }
  return out;
}

describe('tar format', () => {
  it('pax records count their own length', () => {
    for (const value of ['x', 'y'.repeat(95), 'z'.repeat(994), 'w'.repeat(9993)]) {
      const record = paxRecord('path', value);
      expect(Number(record.split(' ')[0])).toBe(Buffer.byteLength(record));
    }
  });

  it('writes what GNU tar lists and extracts exactly (long names and link targets via pax, mtimes kept)', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'w.tar');
    const writer = await TarWriter.open({ target: path });
    await writer.writeFile({ name: 'short.txt', mode: 0o644, mtime: 1_700_000_000, content: Buffer.from('hello') });
    await writer.writeFile({ name: longName, mode: 0o644, mtime: 1_700_000_000.5, atime: 1_700_000_100, content: Buffer.alloc(1000, 65) });
    await writer.writeHeader({ name: 'link', type: 'symlink', size: 0, mode: 0o777, mtime: 1_700_000_000, linkname: longTarget });
    await writer.finish();
    const bytes = await readFile(path);
    expect(bytes.length % 10240).toBe(0);
    const entries = await readAll(bytes);
    expect(entries.map((e) => [e.name, e.type, e.size, e.linkname])).toEqual([
      ['short.txt', 'file', 5, ''],
      [longName, 'file', 1000, ''],
      ['link', 'symlink', 0, longTarget],
    ]);
    expect(entries[1]!.atime).toBe(1_700_000_100);
    if (!hasGnuTar()) return void console.warn('GNU tar not found: skipped');
    const list = spawnSync('/bin/tar', ['tvf', path], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    const out = join(dir, 'x');
    await mkdir(out);
    const extract = spawnSync('/bin/tar', ['xf', path, '-C', out], { encoding: 'utf8' });
    expect(extract.status, extract.stderr).toBe(0);
    expect(await readFile(join(out, longName), 'utf8')).toBe('A'.repeat(1000));
    expect(await readlink(join(out, 'link'))).toBe(longTarget);
  });

  it('reads what GNU tar writes, in gnu and pax formats', async () => {
    if (!hasGnuTar()) return void console.warn('GNU tar not found: skipped');
    const dir = await makeTempDir();
    const src = join(dir, 'src');
    await mkdir(join(src, longDir), { recursive: true });
    await writeFile(join(src, longName), 'long');
    await symlink(longTarget, join(src, 'link'));
    for (const format of ['gnu', 'pax', 'ustar']) {
      const path = join(dir, `${format}.tar`);
      const tar = spawnSync('/bin/tar', ['cf', path, `--format=${format}`, '-C', src, '.'], { encoding: 'utf8' });
      if (format === 'ustar') {
        // ustar cannot hold a 100+ byte link target: GNU tar refuses it, nothing to read.
        continue;
      }
      expect(tar.status, tar.stderr).toBe(0);
      const entries = await readAll(await readFile(path));
      const byName = new Map(entries.map((e) => [e.name.replace(/^\.\//, '').replace(/\/$/, ''), e]));
      expect(byName.get(longName)).toMatchObject({ type: 'file', size: 4, content: 'long' });
      expect(byName.get('link')).toMatchObject({ type: 'symlink', linkname: longTarget });
    }
  });
});
