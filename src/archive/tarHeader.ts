/**
 * The tar format, as bytes: POSIX ustar headers, pax extended records, and
 * the GNU variants a seed's `tar czf` writes (`L`/`K` long names, base-256
 * sizes, the "ustar  " magic). Pure functions; the reader and writer stream
 * around them (tarReader, tarWriter).
 *
 * Why our own and not npm `tar`: a backup only needs regular files, symlinks
 * and pax records, and a restore must refuse almost everything tar can
 * express (hard links, devices, FIFOs, absolute or climbing names, links out of
 * the repo). node-tar's extractor is built to write what the archive says,
 * and its history of path-traversal fixes (CVE-2021-32803/32804/37701/37712)
 * shows how hard that is to make safe after the fact. Here nothing is ever
 * written by an entry's name: the reader only parses, and every write goes
 * through the cache's own path rules (repoPaths), so the safety checks are
 * explicit and few. It also keeps hubcache at two runtime dependencies.
 */
import { HubcacheError } from '../errors.js';

export const BLOCK_SIZE = 512;
/** GNU tar's default record (blocking factor 20): archives are padded to a multiple of it. */
export const RECORD_SIZE = 20 * BLOCK_SIZE;
/** Largest size the 11 octal digits of a ustar size field hold (8 GiB - 1); bigger goes in a pax record. */
export const USTAR_MAX_SIZE = 8 ** 11 - 1;

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char-device' | 'block-device' | 'directory' | 'fifo' | 'pax' | 'pax-global' | 'gnu-long-name' | 'gnu-long-link' | 'other';

export interface TarHeader {
  name: string;
  mode: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  typeflag: string;
  type: TarEntryType;
  linkname: string;
}

export function entryTypeOf(typeflag: string): TarEntryType {
  switch (typeflag) {
    case '0':
    case '\0':
    case '7': // contiguous file: a regular file everywhere that matters
      return 'file';
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '5':
      return 'directory';
    case '6':
      return 'fifo';
    case 'x':
      return 'pax';
    case 'g':
      return 'pax-global';
    case 'L':
      return 'gnu-long-name';
    case 'K':
      return 'gnu-long-link';
    default:
      return 'other';
  }
}

const TYPEFLAGS: Partial<Record<TarEntryType, string>> = { file: '0', symlink: '2', directory: '5', pax: 'x' };

function archiveError(message: string, data: Record<string, unknown> = {}): HubcacheError {
  return new HubcacheError({ code: 'E_ARCHIVE', message, hint: 'The archive is damaged or was not written by tar; nothing past this point was read.', data });
}

// ---------------------------------------------------------------- encoding

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  block.write(value, offset, Math.min(length, Buffer.byteLength(value)), 'utf8');
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  // length - 1 digits, then NUL, as GNU tar writes them.
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}

/** Splits a long name into ustar's prefix (<= 155 bytes) and name (<= 100 bytes) at a "/", if it can be. */
function splitUstarName(name: string): { prefix: string; name: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return undefined;
}

/** One pax record: `"<len> <key>=<value>\n"`, where len counts the whole record, its own digits included. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyBytes = Buffer.byteLength(body);
  let length = bodyBytes + 1;
  while (String(length).length + bodyBytes !== length) length = String(length).length + bodyBytes;
  return `${length}${body}`;
}

export interface EncodeEntryParams {
  name: string;
  type: 'file' | 'symlink' | 'directory';
  size: number;
  mode: number;
  /** Seconds since the epoch (fractions go to a pax record). */
  mtime: number;
  /** Seconds since the epoch; kept in a pax record (restore puts it back, so `ls` shows the same access times). */
  atime?: number;
  linkname?: string;
}

/**
 * The header block(s) of one entry: a pax header first when a field does not
 * fit ustar (long name or link target, size of 8 GiB or more, atime).
 */
export function encodeEntryHeader(params: EncodeEntryParams): Buffer {
  const records: string[] = [];
  const split = splitUstarName(params.name);
  if (!split) records.push(paxRecord('path', params.name));
  const linkname = params.linkname ?? '';
  if (Buffer.byteLength(linkname) > 100) records.push(paxRecord('linkpath', linkname));
  if (params.size > USTAR_MAX_SIZE) records.push(paxRecord('size', String(params.size)));
  if (params.atime !== undefined) records.push(paxRecord('atime', params.atime.toFixed(3)));
  if (!Number.isInteger(params.mtime)) records.push(paxRecord('mtime', params.mtime.toFixed(3)));
  const main = encodeBlock({
    prefix: split?.prefix ?? '',
    // Readers without pax support see a cut name; ours and GNU tar read the pax path.
    name: split?.name ?? truncateBytes(params.name, 100),
    typeflag: TYPEFLAGS[params.type] as string,
    size: params.size > USTAR_MAX_SIZE ? 0 : params.size,
    mode: params.mode,
    mtime: Math.floor(params.mtime),
    linkname: Buffer.byteLength(linkname) > 100 ? truncateBytes(linkname, 100) : linkname,
  });
  if (records.length === 0) return main;
  const paxData = Buffer.from(records.join(''), 'utf8');
  const paxHeader = encodeBlock({
    prefix: '',
    name: truncateBytes(`PaxHeaders/${split?.name ?? params.name.slice(-80)}`, 100),
    typeflag: 'x',
    size: paxData.length,
    mode: 0o644,
    mtime: Math.floor(params.mtime),
    linkname: '',
  });
  return Buffer.concat([paxHeader, paxData, Buffer.alloc(paddingOf(paxData.length)), main]);
}

function truncateBytes(value: string, bytes: number): string {
  let out = value;
  while (Buffer.byteLength(out) > bytes) out = out.slice(0, -1);
  return out;
}

function encodeBlock(fields: { prefix: string; name: string; typeflag: string; size: number; mode: number; mtime: number; linkname: string }): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  writeString(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, fields.mode & 0o7777);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, Math.max(0, fields.mtime));
  block.write(fields.typeflag, 156, 1, 'ascii');
  writeString(block, 157, 100, fields.linkname);
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  writeString(block, 265, 32, 'root');
  writeString(block, 297, 32, 'root');
  writeString(block, 345, 155, fields.prefix);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += block[i] as number;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** Zero bytes after `size` bytes of content, up to the next block. */
export function paddingOf(size: number): number {
  const rest = size % BLOCK_SIZE;
  return rest === 0 ? 0 : BLOCK_SIZE - rest;
}

// ---------------------------------------------------------------- decoding

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK_SIZE; i++) if (block[i] !== 0) return false;
  return true;
}

function readString(block: Buffer, offset: number, length: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end === -1 || end > offset + length ? offset + length : end);
}

/** Octal (spaces and NULs around it allowed) or GNU base-256 (high bit of the first byte set). */
function readNumber(block: Buffer, offset: number, length: number, what: string): number {
  const first = block[offset] as number;
  if (first & 0x80) {
    if (first === 0xff) throw archiveError(`A tar header has a negative ${what}`);
    let value = first & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + (block[offset + i] as number);
    if (!Number.isSafeInteger(value)) throw archiveError(`A tar header has a ${what} too large to handle`);
    return value;
  }
  const text = block.toString('ascii', offset, offset + length).replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw archiveError(`A tar header has an unreadable ${what} field`);
  return parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  const stored = readNumber(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** Parses one header block; `offset` (its place in the stream) only names it in errors. */
export function decodeHeader(block: Buffer, offset: number): TarHeader {
  if (!checksumMatches(block)) throw archiveError(`Not a tar header at byte ${offset} (bad checksum): the archive is damaged or not a tar archive`, { offset });
  const typeflag = String.fromCharCode(block[156] as number);
  const magic = block.toString('ascii', 257, 263);
  let name = readString(block, 0, 100);
  // POSIX ustar ("ustar\0") has a name prefix; old GNU ("ustar  ") uses those bytes for other fields.
  if (magic === 'ustar\0') {
    const prefix = readString(block, 345, 155);
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: readNumber(block, 100, 8, 'mode'),
    size: readNumber(block, 124, 12, 'size'),
    mtime: readNumber(block, 136, 12, 'mtime'),
    typeflag,
    type: entryTypeOf(typeflag),
    linkname: readString(block, 157, 100),
  };
}

/** Parses pax records (`"<len> <key>=<value>\n"`...). */
export function parsePaxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad the data with NULs
    const space = data.indexOf(0x20, pos);
    const length = space === -1 ? NaN : Number(data.toString('ascii', pos, space));
    if (!Number.isSafeInteger(length) || length <= space - pos + 1 || pos + length > data.length) throw archiveError('A pax extended header is malformed');
    const record = data.toString('utf8', space + 1, pos + length - 1);
    const eq = record.indexOf('=');
    if (eq <= 0) throw archiveError('A pax extended header record has no key');
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += length;
  }
  return records;
}
