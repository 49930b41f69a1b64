/**
 * The dashboard's view of the cache: one summary scan, kept and served from memory, refreshed
 * when something changed (a fill ended, an action ran) and on an interval. The scan runs on a
 * worker thread (`threads: 1`), so a cache of 100k files never blocks the server's event loop;
 * requests always get the last finished scan at once, never wait for a new one.
 */
import { statfs } from 'node:fs/promises';
import { scanCache, type CacheScan } from '../../cache/scanCache.js';

export interface DiskUsage {
  totalBytes: number;
  freeBytes: number;
  /** Bytes used on the file system (by anything, not only the cache). */
  usedBytes: number;
}

export interface ScanState {
  scan: CacheScan | undefined;
  /** When the scan held now finished (ms since epoch), and how long it took. */
  finishedAt: number | undefined;
  ms: number | undefined;
  /** Counts up with every finished scan: clients refetch pages only when it moved. */
  generation: number;
  scanning: boolean;
  error: string | undefined;
  disk: DiskUsage | undefined;
}

export interface CacheSnapshotParams {
  cacheDir: string;
  /** Rescan this often (default 60 s; longer for a cache whose scan takes over a tenth of it); changes the server sees rescan sooner. */
  intervalMs?: number;
  /** Coalesces bursts of changes (default 500 ms). */
  debounceMs?: number;
  /** Called after every finished scan. */
  onScan?: (state: ScanState) => void;
}

export class CacheSnapshot {
  private readonly state: ScanState = { scan: undefined, finishedAt: undefined, ms: undefined, generation: 0, scanning: false, error: undefined, disk: undefined };
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly params: CacheSnapshotParams) {}

  get current(): Readonly<ScanState> {
    return this.state;
  }

  /** First scan, then one every interval. */
  start(): void {
    void this.refresh();
  }

  /** Something changed: rescan soon (bursts coalesce into one scan). */
  changed(): void {
    if (this.closed || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.refresh();
    }, this.params.debounceMs ?? 500);
    this.debounce.unref();
  }

  /** Scans now; a call during a scan runs one more scan after it (so no change is missed). */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.scanOnce().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.running;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private async scanOnce(): Promise<void> {
    this.state.scanning = true;
    const started = Date.now();
    try {
      const [scan, disk] = await Promise.all([
        scanCache({ cacheDir: this.params.cacheDir, detail: 'summary', threads: 1 }),
        diskUsage(this.params.cacheDir),
      ]);
      this.state.scan = scan;
      this.state.disk = disk;
      this.state.error = undefined;
    } catch (err) {
      this.state.error = (err as Error).message;
    } finally {
      this.state.scanning = false;
      this.state.finishedAt = Date.now();
      this.state.ms = Date.now() - started;
      this.state.generation += 1;
    }
    this.params.onScan?.(this.state);
    this.scheduleNext();
  }

  /**
   * The next periodic scan: the interval, or ten times the last scan's duration if that is longer,
   * so a cache that takes seconds to walk is not walked most of the time (changes the server
   * sees still rescan at once).
   */
  private scheduleNext(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), Math.max(this.params.intervalMs ?? 60_000, 10 * (this.state.ms ?? 0)));
    this.timer.unref();
  }
}

async function diskUsage(path: string): Promise<DiskUsage | undefined> {
  try {
    const s = await statfs(path);
    const total = s.blocks * s.bsize;
    return { totalBytes: total, freeBytes: s.bavail * s.bsize, usedBytes: total - s.bfree * s.bsize };
  } catch {
    return undefined;
  }
}
