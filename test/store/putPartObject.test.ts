/**
 * How a follower checks a part it got from the leading peer against the store's part object
 * (the object itself, written with putPartObject, is exercised on a real Ceph RGW in
 * s3Replicas.test.ts): by the sha256 in the object's metadata, and for part objects written
 * without it (an older replica's), by the MD5 that is a single PUT's ETag.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PART_SHA256_META, partMatches } from '../../src/store/putPartObject.js';

const data = randomBytes(100_000);
const other = Buffer.from(data);
other[5_000] = other[5_000]! ^ 1;
const sha256 = createHash('sha256').update(data).digest('hex');
const md5 = createHash('md5').update(data).digest('hex');

describe('partMatches', () => {
  it('checks the sha256 metadata when the part object has it, whatever its ETag', () => {
    const stored = { metadata: { [PART_SHA256_META]: sha256 }, etag: 'not-an-md5' };
    expect(partMatches({ data, stored }).ok).toBe(true);
    expect(partMatches({ data: other, stored })).toEqual({ ok: false, detail: expect.stringMatching(new RegExp(`^sha256 [0-9a-f]{64}, the stored part's is ${sha256}$`)) });
  });

  it('checks the MD5 ETag of a part object without the metadata', () => {
    expect(partMatches({ data, stored: { metadata: undefined, etag: md5 } }).ok).toBe(true);
    expect(partMatches({ data, stored: { metadata: {}, etag: md5 } }).ok).toBe(true);
    expect(partMatches({ data: other, stored: { metadata: undefined, etag: md5 } }).ok).toBe(false);
  });
});
