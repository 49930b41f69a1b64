/**
 * Reads a tar stream entry by entry: ustar, pax (`x`, `g`) and GNU (`L`, `K`)
 * headers are folded into the entry they describe. It only parses; what an
 * entry may do is decided by the caller (classifyEntry). Limits on metadata
 * keep memory bounded whatever the archive says, and a stream that ends early
 * (inside an entry, or before the end-of-archive blocks) is E_ARCHIVE naming
 * the entry it cut.
 */
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';
import { ByteReader, TruncatedStreamError } from './byteReader.js';
import { BLOCK_SIZE, decodeHeader, isZeroBlock, paddingOf, parsePaxRecords, type TarEntryType } from './tarHeader.js';

/** Pax and GNU long-name data above this is refused: a name or link target is never this long. */
export const MAX_META_BYTES = 1024 * 1024;

export interface TarEntry {
  /** As stored (pax path or GNU long name applied), not yet checked. */
  name: string;
  type: TarEntryType;
  typeflag: string;
  size: number;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  atime: number | undefined;
  linkname: string;
  /** Stream offset of the entry's (last) header. */
  offset: number;
}

export class TarReader {
  private current: TarEntry | undefined;
  private contentLeft = 0;
  private paddingLeft = 0;
  private lastName: string | undefined;
  private ended = false;

  constructor(private readonly bytes: ByteReader) {}

  /** Archive bytes consumed so far (uncompressed). */
  get offset(): number {
    return this.bytes.offset;
  }

  /** The next entry (the previous one's unread content is skipped), or undefined at the end-of-archive marker. */
  async next(): Promise<TarEntry | undefined> {
    if (this.ended) return undefined;
    await this.finishCurrent();
    this.current = undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax: Map<string, string> | undefined;
    for (;;) {
      const offset = this.bytes.offset;
      const block = await this.guard(() => this.bytes.readExact(BLOCK_SIZE));
      if (block === undefined) throw this.truncated(`after ${this.lastName === undefined ? 'its start' : quoteInput(this.lastName, 200)} (no end-of-archive marker)`);
      if (isZeroBlock(block)) {
        // One zero block ends it (GNU tar accepts a lone one too); what follows is padding.
        this.ended = true;
        return undefined;
      }
      const header = decodeHeader(block, offset);
      if (header.type === 'pax' || header.type === 'pax-global' || header.type === 'gnu-long-name' || header.type === 'gnu-long-link') {
        if (header.size > MAX_META_BYTES) {
          throw new HubcacheError({
            code: 'E_ARCHIVE',
            message: `Refusing the archive: the ${header.type} header at byte ${offset} (${quoteInput(header.name)}) holds ${header.size} bytes of metadata (names are never this long)`,
            data: { entry: header.name, offset, size: header.size },
          });
        }
        const data = await this.guard(() => this.bytes.readExact(header.size));
        await this.guard(() => this.bytes.skip(paddingOf(header.size)));
        const content = data ?? Buffer.alloc(0);
        if (data === undefined && header.size > 0) throw this.truncated(`inside the metadata of ${quoteInput(header.name, 200)}`);
        if (header.type === 'pax') pax = parsePaxRecords(content);
        // Global pax records (archive comments, charset) carry nothing a restore uses.
        if (header.type === 'gnu-long-name') longName = cString(content);
        if (header.type === 'gnu-long-link') longLink = cString(content);
        continue;
      }
      const size = pax?.has('size') ? paxNumber(pax.get('size') as string, 'size') : header.size;
      const entry: TarEntry = {
        name: pax?.get('path') ?? longName ?? header.name,
        type: header.type,
        typeflag: header.typeflag,
        size,
        mode: header.mode,
        mtime: pax?.has('mtime') ? paxNumber(pax.get('mtime') as string, 'mtime') : header.mtime,
        atime: pax?.has('atime') ? paxNumber(pax.get('atime') as string, 'atime') : undefined,
        linkname: pax?.get('linkpath') ?? longLink ?? header.linkname,
        offset,
      };
      // Links, folders, devices and FIFOs have no content whatever the size field says (GNU tar reads it so too).
      const hasContent = entry.type === 'file' || entry.type === 'other';
      this.current = entry;
      this.contentLeft = hasContent ? size : 0;
      this.paddingLeft = hasContent ? paddingOf(size) : 0;
      this.lastName = entry.name;
      return entry;
    }
  }

  /** Hands the current entry's content, in order, to `onChunk` (each chunk is a view: done with it when the promise settles). */
  async readContent(onChunk: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    while (this.contentLeft > 0) {
      const chunk = await this.guard(() => this.bytes.read(this.contentLeft));
      if (chunk === undefined) throw this.truncated(`inside ${quoteInput(this.current?.name ?? '', 200)} (${this.contentLeft} of its ${this.current?.size} bytes missing)`);
      this.contentLeft -= chunk.length;
      await onChunk(chunk);
    }
  }

  /**
   * Fills `target` with the current entry's next bytes (at most what is left of it) and returns how
   * many; straight from the file when the archive is one (ByteReader.readInto).
   */
  async readContentInto(target: Buffer): Promise<number> {
    if (this.contentLeft === 0) return 0;
    const want = Math.min(target.length, this.contentLeft);
    const n = await this.guard(() => this.bytes.readInto(want === target.length ? target : target.subarray(0, want)));
    if (n === 0) throw this.truncated(`inside ${quoteInput(this.current?.name ?? '', 200)} (${this.contentLeft} of its ${this.current?.size} bytes missing)`);
    this.contentLeft -= n;
    return n;
  }

  /** The current entry's whole content (callers cap the size first). */
  async readContentBuffer(): Promise<Buffer> {
    // One buffer of the right size, filled in place (a copy per chunk and a concat cost ~2x).
    const content = Buffer.allocUnsafe(this.contentLeft);
    await this.readContentFully(content);
    return content;
  }

  /** Fills `target` exactly with the current entry's next `target.length` bytes. */
  async readContentFully(target: Buffer): Promise<void> {
    let filled = 0;
    while (filled < target.length) filled += await this.readContentInto(target.subarray(filled));
  }

  private async finishCurrent(): Promise<void> {
    if (this.contentLeft > 0) {
      // Unread content (a blob already in the cache, an entry not restored): skipped, not read, where the source can.
      const left = this.contentLeft;
      this.contentLeft = 0;
      await this.guard(() => this.bytes.skip(left));
    }
    if (this.paddingLeft > 0) {
      const padding = this.paddingLeft;
      this.paddingLeft = 0;
      await this.guard(() => this.bytes.skip(padding));
    }
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof TruncatedStreamError) {
        const where = this.current
          ? `inside ${quoteInput(this.current.name, 200)}`
          : `inside the header after ${this.lastName === undefined ? 'its start' : quoteInput(this.lastName, 200)}`;
        throw this.truncated(where);
      }
      throw err;
    }
  }

  private truncated(where: string): HubcacheError {
    return new HubcacheError({
      code: 'E_ARCHIVE',
      message: `The archive is cut short: it ends ${where}, at byte ${this.bytes.offset}`,
      hint: 'The copy or download of the archive did not finish; what was complete before the cut has been restored.',
      data: { truncated: true, entry: this.current?.name ?? null, offset: this.bytes.offset },
    });
  }
}

function cString(data: Buffer): string {
  const end = data.indexOf(0);
  return data.toString('utf8', 0, end === -1 ? data.length : end);
}

function paxNumber(text: string, key: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(value) || (key === 'size' && !Number.isSafeInteger(value))) {
    throw new HubcacheError({ code: 'E_ARCHIVE', message: `A pax record has an unreadable ${key}: ${quoteInput(text)}`, data: { key } });
  }
  return value;
}
