/**
 * Progress of a backup or restore: bytes and rate on a live line (a bar when the
 * total is known), redrawn at most 10 times a second; the summary line at the end
 * carries the same figures for logs.
 */
import { formatBytes } from './format.js';
import type { Output } from './output.js';
import { renderBar, SpeedMeter } from './progressBar.js';

export function archiveProgress(params: { out: Output; label: string }): ((event: { bytesDone: number; bytesTotal: number | undefined }) => void) | undefined {
  if (!params.out.progressEnabled) return undefined;
  const speed = new SpeedMeter();
  let lastDraw = 0;
  return (event) => {
    const now = Date.now();
    if (now - lastDraw < 100) return;
    lastDraw = now;
    speed.add(event.bytesDone, now);
    const rate = speed.bytesPerSecond;
    params.out.live([
      event.bytesTotal !== undefined
        ? renderBar({ label: params.label, done: event.bytesDone, total: event.bytesTotal, speed: rate })
        : `${params.label} ${formatBytes(event.bytesDone)}${rate > 0 ? ` ${formatBytes(rate)}/s` : ''}`,
    ]);
  };
}

/** "4.3 GB in 5.1 s (843 MB/s)". */
export function bytesAndRate(params: { bytes: number; seconds: number }): string {
  const rate = params.seconds > 0 ? ` (${formatBytes(params.bytes / params.seconds)}/s)` : '';
  return `${formatBytes(params.bytes)} in ${params.seconds.toFixed(1)} s${rate}`;
}
