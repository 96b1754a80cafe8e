import { type MacAddress } from '../src/modules/pool/mac-address';
import { MacPool } from '../src/modules/pool/mac-pool';
import { MacRange } from '../src/modules/pool/mac-range';
import { NextFitAllocator } from '../src/modules/pool/next-fit-allocator';
import { seededRandom } from '../test/fixtures/seeded-random';
import { type BenchResult, type BenchSuite, retainedBytes, secondsSince } from './harness';

const SIZE_24 = 2 ** 24;
const MIN_SECONDS = 0.5;

/** An allocator over 2^24 offsets with `fill` of them used, scattered at random (the hardest case for a search). */
function filledAllocator(fill: number, random: () => number): NextFitAllocator {
  const allocator = new NextFitAllocator(SIZE_24);
  const target = Math.round(fill * SIZE_24);
  if (fill <= 0.5) {
    while (allocator.usedCount < target) allocator.mark(Math.floor(random() * SIZE_24));
  } else {
    for (let i = 0; i < SIZE_24; i++) allocator.mark(i);
    while (allocator.usedCount > target) allocator.release(Math.floor(random() * SIZE_24));
  }
  return allocator;
}

/**
 * Allocations per second at a fill level: take a batch (timed), give it back (untimed) so the fill stays put, and
 * repeat until at least MIN_SECONDS were timed. The cursor keeps moving, so each batch searches new ground.
 */
function allocationsPerSecond(allocator: NextFitAllocator): number {
  const free = SIZE_24 - allocator.usedCount;
  const batch = Math.max(1, Math.min(100_000, Math.floor(free / 2)));
  const taken = new Float64Array(batch);
  let seconds = 0;
  let allocations = 0;
  while (seconds < MIN_SECONDS) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) taken[i] = allocator.take();
    seconds += secondsSince(start);
    allocations += batch;
    for (let i = 0; i < batch; i++) allocator.release(taken[i]);
  }
  return allocations / seconds;
}

/** Release a random used offset and allocate one, at a constant 99 % fill. */
function churnPerSecond(allocator: NextFitAllocator, random: () => number): number {
  const rounds = 1_000_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    let victim = Math.floor(random() * SIZE_24);
    while (!allocator.isUsed(victim)) victim = Math.floor(random() * SIZE_24);
    allocator.release(victim);
    if (allocator.take() < 0) throw new Error('churn ran out of MACs');
  }
  return rounds / secondsSince(start);
}

const SIZE_20 = 2 ** 20;

/**
 * A pool over 2^20 MACs with `fill` of them held by distinct committed owners (`vm/fill/vm-<offset's order>`), the
 * free ones scattered at random. Returns the pool and the names of the owners still held.
 */
function filledPool(fill: number, random: () => number): { pool: MacPool; held: string[] } {
  const pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:0f:ff:ff'));
  const names: (string | undefined)[] = [];
  const target = Math.round(fill * SIZE_20);
  if (fill <= 0.5) {
    for (let i = 0; i < target; i++) {
      names.push(`vm/fill/vm-${i}`);
      pool.allocate(`vm/fill/vm-${i}`, 'default', { state: 'committed' });
    }
  } else {
    for (let i = 0; i < SIZE_20; i++) {
      names.push(`vm/fill/vm-${i}`);
      pool.allocate(`vm/fill/vm-${i}`, 'default', { state: 'committed' });
    }
    let used = SIZE_20;
    while (used > target) {
      const victim = Math.floor(random() * SIZE_20);
      const name = names[victim];
      if (name === undefined) continue;
      pool.release(name);
      names[victim] = undefined;
      used--;
    }
  }
  return { pool, held: names.filter((n): n is string => n !== undefined) };
}

/**
 * The webhook's pool path (allocator and owner index) at a fill level: a batch of new owners each allocates one
 * pending MAC (timed), then each is released (timed separately), until MIN_SECONDS of allocation were timed. Then
 * look-ups of held MACs and owners. Each rate is per operation.
 */
function ownerPathCases(report: (result: BenchResult) => void, random: () => number): void {
  for (const [label, fill] of [
    ['0', 0],
    ['99', 0.99],
  ] as const) {
    const { pool, held } = filledPool(fill, random);
    const free = SIZE_20 - held.length;
    const batch = Math.max(1, Math.min(100_000, Math.floor(free / 2)));
    const names = Array.from({ length: batch }, (_, i) => `vm/bench-ns/new-${i}`);
    let allocSeconds = 0;
    let releaseSeconds = 0;
    let operations = 0;
    while (allocSeconds < MIN_SECONDS) {
      let start = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) pool.allocate(names[i], 'default', { deadline: 1 });
      allocSeconds += secondsSince(start);
      start = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) pool.release(names[i]);
      releaseSeconds += secondsSince(start);
      operations += batch;
    }
    report({
      bench: `pool/alloc-with-owner-index-2^20-fill-${label}pct`,
      value: Math.round(operations / allocSeconds),
      unit: 'allocs/s',
      target: '>= 2000000',
    });
    report({
      bench: `pool/release-with-owner-index-2^20-fill-${label}pct`,
      value: Math.round(operations / releaseSeconds),
      unit: 'releases/s',
    });
    if (held.length === 0) continue;

    const sample = Array.from({ length: 100_000 }, () => held[Math.floor(random() * held.length)]);
    const macs: MacAddress[] = sample.map((owner) => pool.macOf(pool.entriesOf(owner)[0]));
    let found = 0;
    let seconds = 0;
    let lookups = 0;
    while (seconds < MIN_SECONDS) {
      const start = process.hrtime.bigint();
      for (const mac of macs) found += pool.holders(mac).length;
      seconds += secondsSince(start);
      lookups += macs.length;
    }
    if (found !== lookups) throw new Error('a held MAC was not found with exactly one holder');
    report({
      bench: `pool/lookup-holders-2^20-fill-${label}pct`,
      value: Math.round(lookups / seconds),
      unit: 'lookups/s',
    });
    found = 0;
    seconds = 0;
    lookups = 0;
    while (seconds < MIN_SECONDS) {
      const start = process.hrtime.bigint();
      for (const owner of sample) found += pool.entriesOf(owner).length;
      seconds += secondsSince(start);
      lookups += sample.length;
    }
    report({
      bench: `pool/lookup-entries-of-2^20-fill-${label}pct`,
      value: Math.round(lookups / seconds),
      unit: 'lookups/s',
    });
    if (found !== lookups) throw new Error('a held owner was not found with exactly one entry');
  }
}

function memoryCases(report: (result: BenchResult) => void): void {
  const full = retainedBytes(() => {
    const allocator = new NextFitAllocator(SIZE_24);
    for (let i = 0; i < SIZE_24; i++) allocator.take();
    return allocator;
  });
  report({ bench: 'pool/bitmap-bytes-full-2^24', value: full.bytes, unit: 'bytes', target: '<= 2621440' });
  report({ bench: 'pool/bitmap-bytes-full-2^24-estimate', value: full.value.byteSize, unit: 'bytes' });

  const wide = MacRange.parse('02:00:00:00:00:00', '02:ff:ff:ff:ff:ff');
  const bitmap = retainedBytes(() => {
    const allocator = new NextFitAllocator(wide.size);
    for (let i = 0; i < 1_000_000; i++) allocator.take();
    return allocator;
  });
  report({ bench: 'pool/bitmap-bytes-1M-in-2^40', value: bitmap.bytes, unit: 'bytes', target: 'a few MiB' });

  // The same million MACs with the owner index and the owner-key strings it keeps: what a real pool holds.
  const withIndex = retainedBytes(() => {
    const pool = new MacPool(wide);
    for (let i = 0; i < 1_000_000; i++) pool.allocate(`vm/bench-ns/vm-${i}`, 'default');
    return pool;
  });
  report({ bench: 'pool/heap-bytes-1M-in-2^40-with-owner-index', value: withIndex.bytes, unit: 'bytes' });
}

export const poolSuite: BenchSuite = {
  name: 'pool',
  run(report) {
    memoryCases(report);
    const random = seededRandom(2026);
    for (const [label, fill] of [
      ['0', 0],
      ['50', 0.5],
      ['90', 0.9],
      ['99', 0.99],
      ['99.99', 0.9999],
    ] as const) {
      const allocator = filledAllocator(fill, random);
      report({
        bench: `pool/alloc-2^24-fill-${label}pct`,
        value: Math.round(allocationsPerSecond(allocator)),
        unit: 'allocs/s',
        target: fill === 0.99 ? '>= 2000000' : '>= 200000',
      });
      if (fill === 0.99) {
        report({
          bench: 'pool/churn-2^24-fill-99pct',
          value: Math.round(churnPerSecond(allocator, random)),
          unit: 'release+alloc/s',
        });
      }
    }

    ownerPathCases(report, random);

    // The whole pool path the webhook takes: allocator plus owner index (entry, both maps), for 1M objects.
    const pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:ff:ff:ff'));
    const owners = Array.from({ length: 1_000_000 }, (_, i) => `vm/bench-ns/vm-${i}`);
    const start = process.hrtime.bigint();
    for (const owner of owners) pool.allocate(owner, 'default', { deadline: 1 });
    report({
      bench: 'pool/alloc-with-owner-index-1M',
      value: Math.round(owners.length / secondsSince(start)),
      unit: 'allocs/s',
    });
  },
};
