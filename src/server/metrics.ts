/**
 * The mirror's counters, rendered in Prometheus' text format at `/metrics`. Counters only grow;
 * gauges (fills in flight) are read from the store when rendered.
 */
export type CacheOutcome = 'hit' | 'miss' | 'offline-hit';

export class Metrics {
  private readonly requests = new Map<string, number>();
  readonly outcomes: Record<CacheOutcome, number> = { hit: 0, miss: 0, 'offline-hit': 0 };
  servedBytes = 0;
  upstreamBytes = 0;
  upstreamErrors = 0;
  /** With a shared store: parts a following replica got from the filling replica vs from the store. */
  readonly followerParts = { peer: 0, store: 0 };
  readonly startedAt = Date.now();

  countRequest(params: { route: string; status: number }): void {
    const key = `${params.route}\u0000${params.status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  countOutcome(outcome: CacheOutcome): void {
    this.outcomes[outcome] += 1;
  }

  /** Requests by route and status, for the dashboard and tests. */
  requestCounts(): Array<{ route: string; status: number; count: number }> {
    return [...this.requests].map(([key, count]) => {
      const [route = '', status = '0'] = key.split('\u0000');
      return { route, status: Number(status), count };
    });
  }

  render(params: { fillsInFlight: number; fillBytesInFlight: number }): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[string, number]>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    metric(
      'hubcache_http_requests_total',
      'counter',
      'Requests answered, by route and status.',
      this.requestCounts().map(({ route, status, count }) => [`{route="${route}",status="${status}"}`, count]),
    );
    metric('hubcache_cache_hits_total', 'counter', 'File requests answered from the cache.', [['', this.outcomes.hit + this.outcomes['offline-hit']]]);
    metric('hubcache_cache_misses_total', 'counter', 'File requests that needed an upstream transfer (or joined one).', [['', this.outcomes.miss]]);
    metric('hubcache_served_bytes_total', 'counter', 'File bytes sent to clients.', [['', this.servedBytes]]);
    metric('hubcache_upstream_bytes_total', 'counter', 'File bytes received from upstream.', [['', this.upstreamBytes]]);
    metric('hubcache_upstream_errors_total', 'counter', 'Upstream requests that failed (network, timeout, 5xx).', [['', this.upstreamErrors]]);
    metric('hubcache_follower_parts_total', 'counter', 'Fill parts this replica followed, by where it got them (the filling replica, or the shared store).', [
      ['{source="peer"}', this.followerParts.peer],
      ['{source="store"}', this.followerParts.store],
    ]);
    metric('hubcache_fills_in_flight', 'gauge', 'Blobs being filled from upstream now.', [['', params.fillsInFlight]]);
    metric('hubcache_fill_bytes_in_flight', 'gauge', 'Bytes written so far by the fills in flight.', [['', params.fillBytesInFlight]]);
    metric('hubcache_uptime_seconds', 'gauge', 'Seconds since the server started.', [['', Math.round((Date.now() - this.startedAt) / 1000)]]);
    return `${lines.join('\n')}\n`;
  }
}
