import { NextFitAllocator, cryptoRandomOffset } from './next-fit-allocator';

describe('NextFitAllocator', () => {
  it('takes offsets from the cursor, wraps once, then reports -1', () => {
    const allocator = new NextFitAllocator(3, () => 2);
    expect([allocator.take(), allocator.take(), allocator.take()]).toEqual([2, 0, 1]);
    expect(allocator.take()).toBe(-1);
    expect(allocator.usedCount).toBe(3);
  });

  it('skips marked offsets and keeps the cursor where it was when marking', () => {
    const allocator = new NextFitAllocator(10, () => 4);
    allocator.mark(4);
    allocator.mark(5);
    expect(allocator.take()).toBe(6);
    expect(allocator.release(4)).toBe(true);
    expect(allocator.take()).toBe(7);
  });

  it('peeks what take() would return without changing anything', () => {
    const allocator = new NextFitAllocator(5, () => 3);
    allocator.mark(4);
    expect(allocator.peek(10)).toEqual([3, 0, 1, 2]);
    expect(allocator.peek(2)).toEqual([3, 0]);
    expect(allocator.usedCount).toBe(1);
    expect([allocator.take(), allocator.take()]).toEqual([3, 0]);
  });

  it('skips blocked intervals as if used, in take and peek, without counting them used', () => {
    const allocator = new NextFitAllocator(10, () => 2);
    allocator.block([
      { from: 6, to: 8 },
      { from: 2, to: 4 },
      { from: 3, to: 5 },
      { from: 9, to: 30 },
    ]);
    expect(allocator.blocking).toBe(true);
    expect(allocator.peek(10)).toEqual([5, 8, 0, 1]);
    expect(allocator.next()).toBe(5);
    expect([allocator.take(), allocator.take(), allocator.take(), allocator.take()]).toEqual([5, 8, 0, 1]);
    expect(allocator.take()).toBe(-1);
    expect(allocator.usedCount).toBe(4);
    allocator.block([]);
    expect(allocator.blocking).toBe(false);
    expect(allocator.take()).toBe(2);
  });

  it('next() takes nothing; takeAt moves the cursor past the offset, wrapping at the end', () => {
    const allocator = new NextFitAllocator(4, () => 3);
    expect(allocator.next()).toBe(3);
    expect(allocator.next()).toBe(3);
    expect(allocator.usedCount).toBe(0);
    allocator.takeAt(3);
    expect(allocator.position).toBe(0);
    expect(allocator.next()).toBe(0);
  });

  // The cursor comes from the CSPRNG, so these draws cannot be seeded. Bounds are set so that a uniform source
  // fails them with a probability far below 1e-12 per run (chi-square with 15 or 16 degrees of freedom has a mean of
  // 15–16; the threshold is 120), while a constant, stuck or narrow source exceeds them by orders of magnitude.
  const chiSquare = (counts: number[], draws: number) => {
    const expected = draws / counts.length;
    return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
  };
  const CHI_SQUARE_LIMIT = 120;

  it('starts the cursor of each new allocator at a uniformly random offset', () => {
    // take() on an empty allocator returns the cursor itself.
    const size = 17;
    const draws = 17_000;
    const counts = new Array<number>(size).fill(0);
    for (let i = 0; i < draws; i++) counts[new NextFitAllocator(size).take()]++;
    expect(counts.every((count) => count > 0)).toBe(true);
    expect(chiSquare(counts, draws)).toBeLessThan(CHI_SQUARE_LIMIT);
  });

  it('draws offsets uniformly over the whole of large ranges, with no modulo bias', () => {
    // 3·2^46 is not a power of two: a plain `value % size` over 48 bits would put twice as many draws in the first
    // third of the range as in the rest. 2^48 is the whole MAC space; 2^24 is a typical range.
    for (const size of [2 ** 24, 3 * 2 ** 46, 2 ** 48]) {
      const draws = 16_000;
      const buckets = 16;
      const counts = new Array<number>(buckets).fill(0);
      const seen = new Set<number>();
      const outside: number[] = [];
      for (let i = 0; i < draws; i++) {
        const offset = cryptoRandomOffset(size);
        if (!Number.isInteger(offset) || offset < 0 || offset >= size) outside.push(offset);
        else counts[Math.floor((offset / size) * buckets)]++;
        seen.add(offset);
      }
      expect(outside).toEqual([]);
      expect(chiSquare(counts, draws)).toBeLessThan(CHI_SQUARE_LIMIT);
      // Birthday bound: 16,000 uniform draws from 2^24 values repeat about 7.6 times on average (fewer than 100
      // with overwhelming probability); from 2^46 and more, a repeat is a one-in-a-million event.
      expect(draws - seen.size).toBeLessThan(size === 2 ** 24 ? 100 : 3);
    }
  });

  it('draws only 0 from a range of one', () => {
    for (let i = 0; i < 50; i++) expect(cryptoRandomOffset(1)).toBe(0);
  });
});
