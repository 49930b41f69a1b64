/**
 * The worst stall of this thread's event loop over a stretch of work, measured with a ticking
 * timer: the longest gap between ticks (and from the last tick to the stop), less the tick.
 * perf_hooks.monitorEventLoopDelay is not used: it records gaps between its own timer's fires,
 * so a block that starts before its first fire is never recorded (a synchronous 5 s cache walk
 * started at once showed a max of 11 ms).
 */

export interface EventLoopWatch {
  /** Stops watching; the worst delay seen, in ms. */
  stop(): number;
}

export function watchEventLoop(params: { tickMs?: number } = {}): EventLoopWatch {
  const tickMs = params.tickMs ?? 10;
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, tickMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return Math.max(0, Math.round(Math.max(worst, performance.now() - last) - tickMs));
    },
  };
}
