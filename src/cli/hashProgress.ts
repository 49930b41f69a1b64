/** A redraw-throttled progress bar for hashing work (verify, dedupe). */
import type { Output } from './output.js';
import { renderBar, SpeedMeter } from './progressBar.js';

export function hashProgress(params: { out: Output; label: string }): ((event: { bytesDone: number; bytesTotal: number }) => void) | undefined {
  if (!params.out.progressEnabled) return undefined;
  const speed = new SpeedMeter();
  let lastDraw = 0;
  return (event) => {
    const now = Date.now();
    if (now - lastDraw < 100 && event.bytesDone < event.bytesTotal) return;
    lastDraw = now;
    speed.add(event.bytesDone, now);
    params.out.live([renderBar({ label: params.label, done: event.bytesDone, total: event.bytesTotal, speed: speed.bytesPerSecond })]);
  };
}
