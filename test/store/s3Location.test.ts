/** `--store s3://BUCKET[/PREFIX]` and the S3 settings taken from the AWS environment (pure rules). */
import { describe, expect, it } from 'vitest';
import { resolveS3Settings } from '../../src/config.js';
import { isHubcacheError } from '../../src/errors.js';
import { parseS3Location } from '../../src/store/s3Location.js';
import { s3Keys } from '../../src/store/s3Keys.js';

describe('parseS3Location', () => {
  it('takes a bucket and an optional prefix (normalised to end with one slash)', () => {
    expect(parseS3Location({ url: 's3://models' })).toEqual({ bucket: 'models', prefix: '' });
    expect(parseS3Location({ url: 's3://models/' })).toEqual({ bucket: 'models', prefix: '' });
    expect(parseS3Location({ url: 's3://models/team/mirror/' })).toEqual({ bucket: 'models', prefix: 'team/mirror/' });
    expect(parseS3Location({ url: 's3://models//a//b' })).toEqual({ bucket: 'models', prefix: 'a/b/' });
  });

  it('refuses what is not an S3 URL, bad bucket names and traversal in the prefix (E_USAGE)', () => {
    for (const url of ['http://models', 'models', 's3://', 's3://ab', 's3://Upper', 's3://bad_name', 's3://models/../x', 's3://models/a/./b', 's3://models/a\\b']) {
      let error: unknown;
      try {
        parseS3Location({ url });
      } catch (err) {
        error = err;
      }
      expect(isHubcacheError(error, 'E_USAGE'), url).toBe(true);
    }
  });
});

describe('resolveS3Settings', () => {
  it('uses path-style for IP and localhost endpoints with no extra flag, virtual-host style elsewhere', () => {
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL: 'http://10.0.0.5:7480' } })).toEqual({ endpoint: 'http://10.0.0.5:7480', region: 'us-east-1', forcePathStyle: true });
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL: 'http://localhost:9000', AWS_REGION: 'eu-west-1' } }).forcePathStyle).toBe(true);
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL: 'https://s3.example.com' } }).forcePathStyle).toBe(false);
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL: 'https://s3.example.com', AWS_S3_FORCE_PATH_STYLE: 'true' } }).forcePathStyle).toBe(true);
    expect(resolveS3Settings({ env: { AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' } }).endpoint).toBe('http://127.0.0.1:1');
    expect(resolveS3Settings({ env: {} })).toEqual({ endpoint: undefined, region: 'us-east-1', forcePathStyle: false });
  });
});

describe('s3Keys', () => {
  it('names blobs by algorithm and hash under the prefix, and reads them back', () => {
    const keys = s3Keys({ prefix: 'p/' });
    const sha256 = 'a'.repeat(64);
    const sha1 = 'b'.repeat(40);
    expect(keys.blob(sha256)).toBe(`p/blobs/sha256/${sha256}`);
    expect(keys.blob(sha1)).toBe(`p/blobs/sha1/${sha1}`);
    expect(keys.etagOfBlobKey(keys.blob(sha256))).toBe(sha256);
    expect(keys.etagOfBlobKey(`p/blobs/sha256/${sha1}`)).toBeUndefined();
    expect(keys.part(sha256, 3)).toBe(`p/fills/sha256/${sha256}/part-00003`);
    expect(() => keys.blob('not-a-hash')).toThrow();
  });
});
