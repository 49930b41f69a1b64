/** `--store s3://BUCKET[/PREFIX]` of ls, verify, push and pull: the connection, or a clear E_STORE/E_USAGE error. */
import { resolveS3Settings } from '../config.js';
import { openS3Connection, type S3Connection } from '../store/s3Connection.js';
import { parseS3Location } from '../store/s3Location.js';

export async function openStore(params: { url: string; write: boolean }): Promise<S3Connection> {
  const location = parseS3Location({ url: params.url });
  return openS3Connection({ location, settings: resolveS3Settings(), probe: params.write });
}
