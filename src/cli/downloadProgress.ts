/**
 * Turns download events into progress bars (per active file and a total)
 * on a TTY, and into short log lines otherwise. Redraws at most 10 times a second.
 */
import type { DownloadEvent } from '../download/downloadFile.js';
import type { Output } from './output.js';
import { renderBar, SpeedMeter } from './progressBar.js';
import { formatBytes } from './format.js';

interface FileState {
  size: number;
  done: number;
  speed: SpeedMeter;
}

export class DownloadProgress {
  private readonly files = new Map<string, FileState>();
  private total = 0;
  private knownTotal: number | undefined;
  private done = 0;
  private filesDone = 0;
  private filesTotal: number | undefined;
  private readonly speed = new SpeedMeter();
  private lastDraw = 0;

  constructor(private readonly out: Output) {}

  plan(params: { files: Array<{ path: string; size: number | undefined }> }): void {
    this.filesTotal = params.files.length;
    if (params.files.every((f) => f.size !== undefined)) this.knownTotal = params.files.reduce((n, f) => n + (f.size ?? 0), 0);
  }

  readonly onEvent = (event: DownloadEvent): void => {
    switch (event.type) {
      case 'start': {
        const previous = this.files.get(event.path);
        if (!previous) this.total += event.size;
        this.files.set(event.path, { size: event.size, done: event.resumedFrom, speed: new SpeedMeter() });
        this.done += event.resumedFrom - (previous?.done ?? 0);
        if (event.resumedFrom > 0) this.out.info(`resuming ${event.path} from ${formatBytes(event.resumedFrom)}`);
        break;
      }
      case 'progress': {
        const file = this.files.get(event.path);
        if (file) file.done += event.bytes;
        this.done += event.bytes;
        break;
      }
      case 'waiting-lock': {
        const who = event.holders.map((h) => `pid ${h.pid}${h.command ? ` (${h.command})` : ''}`).join(', ') || 'another process';
        this.out.info(`${event.path}: waiting for ${who} downloading the same file`);
        break;
      }
      case 'retry':
        this.out.info(`${event.path}: ${event.message}; retry ${event.attempt} in ${(event.delayMs / 1000).toFixed(1)}s`);
        break;
      case 'warning':
        this.out.warn(event.path ? `${event.path}: ${event.message}` : event.message);
        break;
      case 'done':
        this.filesDone += 1;
        this.files.delete(event.path);
        break;
    }
    this.draw(event.type === 'done' || event.type === 'start');
  };

  private draw(force: boolean): void {
    if (!this.out.progressEnabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.speed.add(this.done, now);
    const lines: string[] = [];
    for (const [path, file] of [...this.files].slice(0, 4)) {
      file.speed.add(file.done, now);
      const label = path.length > 32 ? `…${path.slice(-31)}` : path.padEnd(32);
      lines.push(renderBar({ label, done: file.done, total: file.size, speed: file.speed.bytesPerSecond }));
    }
    if (this.files.size > 4) lines.push(`  … and ${this.files.size - 4} more`);
    const files = this.filesTotal !== undefined ? `${this.filesDone}/${this.filesTotal} files` : `${this.filesDone} files`;
    lines.push(renderBar({ label: `total ${files}`.padEnd(32), done: this.done, total: this.knownTotal ?? this.total, speed: this.speed.bytesPerSecond }));
    this.out.live(lines);
  }

  finish(): void {
    this.out.clearLive();
  }
}
