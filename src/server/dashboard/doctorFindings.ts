/**
 * The dashboard's copy of `hubcache doctor`'s findings: run as a child process (see runCliJson)
 * after a scan, at most once per `minIntervalMs` (or 10x its last duration), and kept until the next run.
 */
import type { DoctorFinding } from '../../maintenance/doctorCache.js';
import { runCliJson } from './runCliJson.js';

export interface DoctorState {
  finishedAt: number | undefined;
  running: boolean;
  /** The first findings (bounded), and how many there were. */
  findings: DoctorFinding[];
  count: number;
  error: string | undefined;
}

const MAX_SHOWN = 100;

export class DoctorFindings {
  private readonly state: DoctorState = { finishedAt: undefined, running: false, findings: [], count: 0, error: undefined };
  private startedAt = 0;
  private lastMs = 0;

  constructor(private readonly params: { cacheDir: string; minIntervalMs?: number; signal?: AbortSignal }) {}

  get current(): Readonly<DoctorState> {
    return this.state;
  }

  /** Runs doctor unless it ran (or started) within the interval, or `force`. */
  maybeRun(params: { force?: boolean } = {}): void {
    if (this.state.running || this.params.signal?.aborted) return;
    // A cache whose doctor run takes minutes (100k files) is not walked most of the time: 10x its duration at least.
    if (!params.force && Date.now() - this.startedAt < Math.max(this.params.minIntervalMs ?? 5 * 60_000, 10 * this.lastMs)) return;
    this.startedAt = Date.now();
    this.state.running = true;
    void runCliJson({ args: ['doctor'], cacheDir: this.params.cacheDir, ...(this.params.signal ? { signal: this.params.signal } : {}) })
      .then(
        (result) => {
          const report = result.value as { findings?: DoctorFinding[] } | undefined;
          if (!report || !Array.isArray(report.findings)) {
            this.state.error = `doctor did not report (exit ${result.code}): ${result.stderr.trim().slice(-300)}`;
            return;
          }
          this.state.findings = report.findings.slice(0, MAX_SHOWN);
          this.state.count = report.findings.length;
          this.state.error = undefined;
        },
        (err: unknown) => {
          this.state.error = (err as Error).message;
        },
      )
      .finally(() => {
        this.state.running = false;
        this.state.finishedAt = Date.now();
        this.lastMs = this.state.finishedAt - this.startedAt;
      });
  }
}
