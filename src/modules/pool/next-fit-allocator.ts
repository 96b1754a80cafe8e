import { randomBytes } from 'node:crypto';
import { MAC_SPACE } from './mac-address';
import { PagedBitmap } from './paged-bitmap';

/** Picks the cursor's starting offset in [0, size). Injected so tests can place the cursor. */
export type RandomOffset = (size: number) => number;

/** A uniformly random offset from the CSPRNG (rejection sampling over 48 bits; upstream randomises too, PR #447). */
export const cryptoRandomOffset: RandomOffset = (size) => {
  const limit = MAC_SPACE - (MAC_SPACE % size);
  for (;;) {
    const value = randomBytes(6).readUIntBE(0, 6);
    if (value < limit) return value % size;
  }
};

/**
 * Offsets [0, size) in use, and a next-fit cursor over them. The cursor starts at a random offset and moves past each
 * offset handed out, wrapping once, so a just-released offset is not handed out again at once.
 */
export class NextFitAllocator {
  private readonly used: PagedBitmap;
  private cursor: number;

  constructor(
    readonly size: number,
    randomOffset: RandomOffset = cryptoRandomOffset,
  ) {
    this.used = new PagedBitmap(size);
    this.cursor = randomOffset(size);
  }

  get usedCount(): number {
    return this.used.count;
  }

  get byteSize(): number {
    return this.used.byteSize;
  }

  isUsed(offset: number): boolean {
    return this.used.has(offset);
  }

  /** Takes the first free offset at or after the cursor, wrapping once; -1 when every offset is used. */
  take(): number {
    let offset = this.used.nextClear(this.cursor);
    if (offset < 0 && this.cursor > 0) offset = this.used.nextClear(0);
    if (offset < 0) return -1;
    this.used.set(offset);
    this.cursor = offset + 1 === this.size ? 0 : offset + 1;
    return offset;
  }

  /**
   * The offsets `count` calls of take() would return now, without taking them or moving the cursor; fewer when the
   * range runs out first.
   */
  peek(count: number): number[] {
    const offsets: number[] = [];
    let from = this.cursor;
    let limit = this.size;
    while (offsets.length < count) {
      const offset = from < limit ? this.used.nextClear(from) : -1;
      if (offset >= 0 && offset < limit) {
        offsets.push(offset);
        from = offset + 1;
      } else if (limit === this.size && this.cursor > 0) {
        limit = this.cursor;
        from = 0;
      } else {
        break;
      }
    }
    return offsets;
  }

  /** Marks an offset used without moving the cursor (a requested MAC, or one found at rebuild). */
  mark(offset: number): boolean {
    return this.used.set(offset);
  }

  release(offset: number): boolean {
    return this.used.clear(offset);
  }
}
