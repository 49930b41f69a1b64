/** What one benchmark reports: named measurements and the ratios that have targets. */
export interface BenchMeasurement {
  name: string;
  /** Seconds (wall clock, whole process where the user waits for one). */
  seconds?: number;
  /** Any other figure, with its unit in `unit`. */
  value?: number;
  unit?: string;
}

export interface BenchRatio {
  name: string;
  value: number;
  /** The target, e.g. ">= 5" */
  target: string;
  met: boolean;
}

export interface BenchResult {
  bench: string;
  description: string;
  measurements: BenchMeasurement[];
  ratios: BenchRatio[];
  notes?: string[];
}

export interface Bench {
  name: string;
  description: string;
  run(params: { workDir: string; quick: boolean }): Promise<BenchResult>;
}
