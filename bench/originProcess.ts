/**
 * The test origin in its own process (started by `startOriginProcess`), so the bytes it serves
 * cost the bench process nothing and the mirror under test competes with it as with a real
 * upstream. It serves one generated file and answers `stats` / `reset` over the IPC channel,
 * so the bench can read the origin's byte counters ("one upstream transfer").
 */
import { createOrigin } from '../test/helpers/origin/createOrigin.js';
import { linearRepo } from '../test/helpers/origin/fixture.js';
import type { OriginRequest, OriginMessage } from './originMessages.js';

const [repoId, path, sizeText, seed] = process.argv.slice(2);
if (!repoId || !path || !sizeText || !seed || !process.send) {
  process.stderr.write('usage (from startOriginProcess): originProcess.ts REPO PATH SIZE SEED, with an IPC channel\n');
  process.exit(2);
}
const send = (message: OriginMessage): void => void process.send?.(message);

const origin = await createOrigin({
  fixture: { repos: [linearRepo({ repoId, commits: [{ files: [{ path, source: { size: Number(sizeText), seed } }] }] })] },
});
const file = origin.file({ repoId, path });
const commit = origin.fixture.byKey.values().next().value?.refs.get('main') ?? '';
send({
  type: 'ready',
  url: origin.url,
  cdnUrl: origin.cdnUrl,
  commit,
  etag: file.etag,
  sha256: file.blob.sha256,
  size: file.blob.size,
  path: file.blob.body.kind === 'file' ? file.blob.body.path : '',
});

process.on('message', (request: OriginRequest) => {
  if (request.type === 'throttle') {
    origin.faults.clear();
    if (request.bytesPerSecond !== undefined) origin.faults.add({ kind: 'trickle', bytesPerSecond: request.bytesPerSecond, match: { route: 'cdn' }, times: Infinity });
  }
  if (request.type === 'reset') origin.stats.reset();
  {
    const { stats } = origin;
    send({ type: 'stats', requests: { ...stats.requests }, bodyBytes: stats.bodyBytes, blobBytes: stats.bytesByBlob.get(file.etag) ?? 0 });
  }
});
// The parent going away (bench killed) ends us too: the IPC channel closes.
process.on('disconnect', () => void origin.close().then(() => process.exit(0)));
