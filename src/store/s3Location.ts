/**
 * `s3://BUCKET[/PREFIX]`: where a shared store lives. The prefix lets several mirrors (or a mirror
 * and other data) share one bucket; it never starts or ends with `/` once parsed.
 */
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';

export interface S3Location {
  bucket: string;
  /** '' or `some/prefix/` (with its trailing slash), prepended to every key. */
  prefix: string;
}

// S3's bucket rules (3-63 chars, lower case, digits, dots, hyphens; starts and ends alphanumeric).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function parseS3Location(params: { url: string }): S3Location {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(params.url);
  const bucket = match?.[1] ?? '';
  if (!match || !BUCKET.test(bucket)) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `--store must be s3://BUCKET[/PREFIX] with a valid bucket name, got ${quoteInput(params.url)}`,
      hint: 'Example: --store s3://models/mirror (endpoint and credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ... or ~/.aws).',
    });
  }
  const parts = (match[2] ?? '').split('/').filter((part) => part !== '');
  if (parts.some((part) => part === '.' || part === '..' || /[\x00-\x1f\\]/.test(part))) {
    throw new HubcacheError({ code: 'E_USAGE', message: `--store prefix must be plain path segments, got ${quoteInput(params.url)}` });
  }
  return { bucket, prefix: parts.length === 0 ? '' : `${parts.join('/')}/` };
}
