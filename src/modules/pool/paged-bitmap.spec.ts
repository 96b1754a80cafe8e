import { seededRandom } from '../../../test/fixtures/seeded-random';
import { PAGE_BITS, PagedBitmap } from './paged-bitmap';

function referenceNextClear(set: Set<number>, size: number, from: number): number {
  for (let i = from; i < size; i++) if (!set.has(i)) return i;
  return -1;
}

describe('PagedBitmap', () => {
  it('sets, tests and clears bits and counts them', () => {
    const bitmap = new PagedBitmap(100);
    expect(bitmap.set(5)).toBe(true);
    expect(bitmap.set(5)).toBe(false);
    expect(bitmap.has(5)).toBe(true);
    expect(bitmap.has(6)).toBe(false);
    expect(bitmap.count).toBe(1);
    expect(bitmap.clear(5)).toBe(true);
    expect(bitmap.clear(5)).toBe(false);
    expect(bitmap.count).toBe(0);
    expect(bitmap.pageCount).toBe(0);
  });

  it('rejects bits outside its size', () => {
    const bitmap = new PagedBitmap(10);
    expect(() => bitmap.set(10)).toThrow(RangeError);
    expect(() => bitmap.set(-1)).toThrow(RangeError);
    expect(() => bitmap.clear(1.5)).toThrow(RangeError);
    expect(() => new PagedBitmap(0)).toThrow(RangeError);
  });

  it('finds the next clear bit, never past the size', () => {
    const bitmap = new PagedBitmap(5);
    for (let i = 0; i < 5; i++) bitmap.set(i);
    expect(bitmap.nextClear(0)).toBe(-1);
    bitmap.clear(3);
    expect(bitmap.nextClear(0)).toBe(3);
    expect(bitmap.nextClear(4)).toBe(-1);
    expect(bitmap.nextClear(5)).toBe(-1);
  });

  it('agrees with a Set on random operations across sparse and dense pages', () => {
    const size = 3 * PAGE_BITS + 123;
    const bitmap = new PagedBitmap(size);
    const reference = new Set<number>();
    const random = seededRandom(42);
    // Concentrate on one page so it crosses the sparse/dense threshold both ways.
    for (let step = 0; step < 40_000; step++) {
      const hot = random() < 0.8;
      const index = hot ? PAGE_BITS + Math.floor(random() * 9000) : Math.floor(random() * size);
      if (random() < 0.6) {
        expect(bitmap.set(index)).toBe(!reference.has(index));
        reference.add(index);
      } else {
        expect(bitmap.clear(index)).toBe(reference.has(index));
        reference.delete(index);
      }
      if (step % 97 === 0) {
        const from = Math.floor(random() * size);
        expect(bitmap.nextClear(from)).toBe(referenceNextClear(reference, size, from));
      }
    }
    expect(bitmap.count).toBe(reference.size);
    for (const index of reference) expect(bitmap.has(index)).toBe(true);
  });

  it('skips full pages and full words when searching', () => {
    const size = 4 * PAGE_BITS;
    const bitmap = new PagedBitmap(size);
    for (let i = 0; i < 3 * PAGE_BITS; i++) bitmap.set(i);
    expect(bitmap.nextClear(0)).toBe(3 * PAGE_BITS);
    bitmap.clear(2 * PAGE_BITS + 777);
    expect(bitmap.nextClear(5)).toBe(2 * PAGE_BITS + 777);
    bitmap.set(2 * PAGE_BITS + 777);
    for (let i = 3 * PAGE_BITS; i < size; i++) bitmap.set(i);
    expect(bitmap.count).toBe(size);
    expect(bitmap.nextClear(0)).toBe(-1);
    bitmap.clear(size - 1);
    expect(bitmap.nextClear(0)).toBe(size - 1);
  });

  it('works at 48-bit offsets beyond 32-bit integer arithmetic', () => {
    const size = 2 ** 48;
    const bitmap = new PagedBitmap(size);
    const high = 2 ** 47 + 2 ** 33 + 5;
    bitmap.set(high);
    bitmap.set(high + 1);
    expect(bitmap.has(high)).toBe(true);
    expect(bitmap.has(high - 2 ** 32)).toBe(false);
    expect(bitmap.nextClear(high)).toBe(high + 2);
    expect(bitmap.nextClear(size - 1)).toBe(size - 1);
    bitmap.set(size - 1);
    expect(bitmap.nextClear(size - 1)).toBe(-1);
  });

  it('keeps memory proportional to pages in use: a full 2^24 bitmap stays under 2.5 MiB', () => {
    const bitmap = new PagedBitmap(2 ** 24);
    for (let i = 0; i < 2 ** 24; i++) bitmap.set(i);
    expect(bitmap.count).toBe(2 ** 24);
    expect(bitmap.byteSize).toBeLessThanOrEqual(2.5 * 1024 * 1024);
    expect(bitmap.nextClear(0)).toBe(-1);
  });

  it('holds a few scattered bits of a 2^48 space in a few KiB', () => {
    const bitmap = new PagedBitmap(2 ** 48);
    for (let i = 0; i < 10; i++) bitmap.set(i * 2 ** 40 + 12345);
    expect(bitmap.pageCount).toBe(10);
    expect(bitmap.byteSize).toBeLessThan(10 * 1024);
  });
});
