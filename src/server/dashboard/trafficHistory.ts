/**
 * Mirror traffic over time for the dashboard's chart: the metrics' counters sampled on an
 * interval into a fixed ring (default 2 s x 300 = the last 10 minutes). Counters only grow, so
 * the page turns two neighbouring samples into rates.
 */
import type { Metrics } from '../metrics.js';

export interface TrafficSample {
  /** ms since epoch. */
  t: number;
  hits: number;
  misses: number;
  servedBytes: number;
  upstreamBytes: number;
  upstreamErrors: number;
}

export class TrafficHistory {
  private readonly samples: TrafficSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metrics: Metrics,
    private readonly params: { intervalMs?: number; size?: number } = {},
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.params.intervalMs ?? 2_000);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The current counters (not yet in the ring) appended, so the page's last point is now. */
  list(): TrafficSample[] {
    return [...this.samples, this.now()];
  }

  private sample(): void {
    this.samples.push(this.now());
    const size = this.params.size ?? 300;
    if (this.samples.length > size) this.samples.splice(0, this.samples.length - size);
  }

  private now(): TrafficSample {
    const m = this.metrics;
    return {
      t: Date.now(),
      hits: m.outcomes.hit + m.outcomes['offline-hit'],
      misses: m.outcomes.miss,
      servedBytes: m.servedBytes,
      upstreamBytes: m.upstreamBytes,
      upstreamErrors: m.upstreamErrors,
    };
  }
}
