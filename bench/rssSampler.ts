/**
 * Samples a running process's resident memory from /proc/<pid>/status while something happens:
 * the highest VmRSS seen between start and stop, and the kernel's own VmHWM (peak over the
 * process's whole life, no sampling gap) read at stop.
 */
import { readFile } from 'node:fs/promises';

export interface RssFigures {
  /** Highest VmRSS sampled while running, KiB (undefined without /proc). */
  maxRssKiB?: number;
  /** VmHWM at stop, KiB: the peak since the process started. */
  hwmKiB?: number;
  samples: number;
}

export interface RssSampler {
  stop(): Promise<RssFigures>;
}

export function sampleRss(params: { pid: number; intervalMs?: number }): RssSampler {
  const statusPath = `/proc/${params.pid}/status`;
  const figures: RssFigures = { samples: 0 };
  const read = async (): Promise<void> => {
    const text = await readFile(statusPath, 'utf8').catch(() => '');
    const rss = /VmRSS:\s+(\d+) kB/.exec(text);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(text);
    if (rss) {
      figures.maxRssKiB = Math.max(figures.maxRssKiB ?? 0, Number(rss[1]));
      figures.samples += 1;
    }
    if (hwm) figures.hwmKiB = Number(hwm[1]);
  };
  void read();
  const timer = setInterval(() => void read(), params.intervalMs ?? 25);
  return {
    async stop() {
      clearInterval(timer);
      await read();
      return { ...figures };
    },
  };
}
