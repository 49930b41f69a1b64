/** One progress line: label, bar, bytes, speed, ETA. */
import { formatBytes, formatDuration } from './format.js';

export interface BarParams {
  label: string;
  done: number;
  total: number;
  /** Bytes per second, if known. */
  speed?: number;
  width?: number;
}

export function renderBar(params: BarParams): string {
  const width = params.width ?? 24;
  const ratio = params.total > 0 ? Math.min(1, params.done / params.total) : 0;
  const filled = Math.round(ratio * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
  const speed = params.speed && params.speed > 0 ? ` ${formatBytes(params.speed)}/s` : '';
  const eta =
    params.speed && params.speed > 0 && params.total > params.done ? ` eta ${formatDuration({ seconds: (params.total - params.done) / params.speed })}` : '';
  return `${params.label} ${bar} ${pct} ${formatBytes(params.done)}/${formatBytes(params.total)}${speed}${eta}`;
}

/** Speed over a sliding window, so the number follows the current rate. */
export class SpeedMeter {
  private samples: Array<{ t: number; bytes: number }> = [];
  constructor(private readonly windowMs = 3000) {}

  add(totalBytes: number, now = Date.now()): void {
    this.samples.push({ t: now, bytes: totalBytes });
    while (this.samples.length > 2 && now - (this.samples[0] as { t: number }).t > this.windowMs) this.samples.shift();
  }

  get bytesPerSecond(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0] as { t: number; bytes: number };
    const last = this.samples[this.samples.length - 1] as { t: number; bytes: number };
    const dt = (last.t - first.t) / 1000;
    return dt > 0 ? (last.bytes - first.bytes) / dt : 0;
  }
}
