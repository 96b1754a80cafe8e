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

/** Offsets `from` to `to`, `to` excluded; never wrapping. */
export interface OffsetInterval {
  from: number;
  to: number;
}

/**
 * Offsets [0, size) in use, and a next-fit cursor over them. The cursor starts at a random offset and moves past each
 * offset handed out, wrapping once, so a just-released offset is not handed out again at once.
 *
 * Blocked intervals (what a previous leader may have handed out, see the leader module) are skipped as if used, but
 * they are not: they do not count as used and become free to take once unblocked.
 */
export class NextFitAllocator {
  private readonly used: PagedBitmap;
  private cursor: number;
  /** Sorted, disjoint. */
  private blocked: OffsetInterval[] = [];

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

  /** Where the next search starts. */
  get position(): number {
    return this.cursor;
  }

  /** Whether some interval is blocked now. */
  get blocking(): boolean {
    return this.blocked.length > 0;
  }

  isUsed(offset: number): boolean {
    return this.used.has(offset);
  }

  /** Replaces the blocked intervals (any order, overlaps allowed; clipped to the range). */
  block(intervals: readonly OffsetInterval[]): void {
    const clipped = intervals
      .map(({ from, to }) => ({ from: Math.max(0, from), to: Math.min(this.size, to) }))
      .filter(({ from, to }) => from < to)
      .sort((a, b) => a.from - b.from);
    const merged: OffsetInterval[] = [];
    for (const interval of clipped) {
      const last = merged[merged.length - 1];
      if (last !== undefined && interval.from <= last.to) last.to = Math.max(last.to, interval.to);
      else merged.push(interval);
    }
    this.blocked = merged;
  }

  /** The first free, unblocked offset at or after the cursor, wrapping once; -1 when there is none. Takes nothing. */
  next(): number {
    const offset = this.nextFree(this.cursor, this.size);
    return offset >= 0 || this.cursor === 0 ? offset : this.nextFree(0, this.cursor);
  }

  /** Takes next(); -1 when every offset is used or blocked. */
  take(): number {
    const offset = this.next();
    if (offset >= 0) this.takeAt(offset);
    return offset;
  }

  /** Takes an offset next() returned and moves the cursor past it. */
  takeAt(offset: number): void {
    this.used.set(offset);
    this.cursor = offset + 1 === this.size ? 0 : offset + 1;
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
      const offset = this.nextFree(from, limit);
      if (offset >= 0) {
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

  /** The first clear offset in [from, limit) outside every blocked interval; -1 when there is none. */
  private nextFree(from: number, limit: number): number {
    let position = from;
    while (position < limit) {
      const offset = this.used.nextClear(position);
      if (offset < 0 || offset >= limit) return -1;
      const end = this.blockedEnd(offset);
      if (end < 0) return offset;
      position = end;
    }
    return -1;
  }

  /** The end of the blocked interval holding `offset`; -1 when none does. */
  private blockedEnd(offset: number): number {
    for (const { from, to } of this.blocked) {
      if (offset < from) return -1;
      if (offset < to) return to;
    }
    return -1;
  }
}
