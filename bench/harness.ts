/** One measured number. `bench` is `<suite>/<case>`. */
export interface BenchResult {
  bench: string;
  value: number;
  unit: string;
  /** Shown in the human table only, e.g. ">= 2000000". */
  target?: string;
}

export interface BenchSuite {
  name: string;
  /** `args`: the command line after the runner's own options, for a suite's own (`--sizes` of rebuild). */
  run(report: (result: BenchResult) => void, args: readonly string[]): Promise<void> | void;
}

/** Seconds since `start` (from process.hrtime.bigint()). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Heap bytes in use after a full collection; the runner starts node with --expose-gc. */
export function settledHeapBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run benchmarks with node --expose-gc (npm run bench does)');
  gc();
  gc();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

/**
 * Heap bytes retained by what `build` returns: measured after full collections before and after, while the result
 * is still referenced. Run memory cases before anything else keeps large garbage around.
 */
export function retainedBytes<T>(build: () => T): { bytes: number; value: T } {
  const before = settledHeapBytes();
  const value = build();
  const bytes = settledHeapBytes() - before;
  return { bytes, value };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
