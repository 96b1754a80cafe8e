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

  it('draws the cursor uniformly inside the range', () => {
    for (const size of [1, 2, 17, 2 ** 24, 2 ** 48]) {
      for (let i = 0; i < 50; i++) {
        const offset = cryptoRandomOffset(size);
        expect(Number.isInteger(offset) && offset >= 0 && offset < size).toBe(true);
      }
    }
  });
});
