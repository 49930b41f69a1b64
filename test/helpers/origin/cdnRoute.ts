/**
 * The "CDN" LFS redirects land on: content-addressed by sha256, no auth (the
 * real one uses signed URLs), Range and If-Range like S3/CloudFront. Clients
 * must not send the Hub token here when it is another host; `stats.log`
 * records whether they did.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BLOB_LAST_MODIFIED, type OriginContext } from './context.js';
import type { FaultTarget } from './faults.js';
import { contentDisposition } from './fileRoute.js';
import { sendBlob } from './sendBlob.js';

export async function handleCdn(params: {
  ctx: OriginContext;
  req: IncomingMessage;
  res: ServerResponse;
  sha256: string;
  query: URLSearchParams;
  faultTarget: FaultTarget;
}): Promise<void> {
  const { ctx, req, res, sha256, query } = params;
  const blob = ctx.fixture.blobsBySha256.get(sha256);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Content-Length': '0' }).end();
    return;
  }
  if (blob === undefined) {
    const body = Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code></Error>');
    res.writeHead(404, { 'Content-Type': 'application/xml', 'Content-Length': String(body.byteLength) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const name = (query.get('path') ?? sha256).split('/').pop() ?? sha256;
  await sendBlob({
    req,
    res,
    blob,
    etag: `"${sha256}"`,
    statsKey: sha256,
    lastModified: BLOB_LAST_MODIFIED,
    headers: {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': query.get('response-content-disposition') ?? contentDisposition({ kind: 'inline', name }),
    },
    stats: ctx.stats,
    takeFault: () => ctx.faults.takeBody(params.faultTarget),
    takeIgnoreRange: () => ctx.faults.takeIgnoreRange(params.faultTarget),
  });
}
