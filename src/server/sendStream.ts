/**
 * Streams a body to a response like `pipeline(source, res)`, and also tells the store when the
 * socket is done with each chunk (`returnLent`, from the write's callback), so buffers a fill lent
 * out without a copy can be reused (bufferPool). Resolves once the response is finished; rejects
 * when the source fails or the client goes away first, with the source destroyed (a fill's reader
 * then stops holding its parts).
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { returnLent } from '../store/bufferPool.js';

export async function sendStream(params: { source: Readable; res: ServerResponse }): Promise<void> {
  const { source, res } = params;
  const written = finished(res);
  // Observed below; a rejection before that point must not count as unhandled.
  written.catch(() => undefined);
  const onDrain = (): void => void source.resume();
  res.on('drain', onDrain);
  try {
    await new Promise<void>((resolve, reject) => {
      // 'data' (flowing mode) hands over each chunk as the source pushed it, so the callback
      // returns exactly the slice that was lent.
      source.on('data', (chunk: Buffer) => {
        if (!res.write(chunk, () => returnLent(chunk))) source.pause();
      });
      source.once('end', resolve);
      source.once('error', reject);
      written.then(() => reject(new Error('the response ended before the body')), reject);
    });
    res.end();
    await written;
  } catch (err) {
    source.destroy();
    throw err;
  } finally {
    res.off('drain', onDrain);
  }
}
