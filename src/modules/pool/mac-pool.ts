import { MacAddress } from './mac-address';
import { type MacRange } from './mac-range';
import { NextFitAllocator, type RandomOffset, cryptoRandomOffset } from './next-fit-allocator';
import { type EntryState, OwnerIndex, type PoolEntry } from './owner-index';
import { PoolException, PoolExceptionCode } from './pool.exception';

export interface PoolStats {
  rangeStart: string;
  rangeEnd: string;
  /** Addresses in the range. */
  size: number;
  /** Distinct MACs in the range held by at least one owner. */
  used: number;
  free: number;
  /** Distinct MACs held outside the current range (requested ones, or kept after a range change). */
  outOfRange: number;
  /** Entries admitted but not yet seen persisted. */
  pending: number;
  committed: number;
  /** MACs held by more than one owner. */
  shared: number;
  /** MACs held by two or more VirtualMachine interfaces (entries of `vm/` owners). */
  vmDuplicates: number;
}

export interface HoldResult {
  entry: PoolEntry;
  /** False when the owner already held this MAC under this key. */
  created: boolean;
  /** Entries of other owners holding the same MAC. */
  others: readonly PoolEntry[];
}

export interface HoldOptions {
  state?: EntryState;
  /** Epoch milliseconds after which a pending entry is re-checked; ignored for committed entries. */
  deadline?: number;
  /** Epoch milliseconds of the admission that records the entry. */
  since?: number;
}

/**
 * The pool: a range, a next-fit allocator over the range's offsets, and the owner index.
 *
 * Invariant: an offset of the range is used in the allocator exactly when the owner index holds its MAC. A MAC released
 * a moment ago is not handed out again at once (DHCP and ARP caches still remember it): see NextFitAllocator.
 */
export class MacPool {
  private currentRange: MacRange;
  private allocator: NextFitAllocator;
  private readonly index = new OwnerIndex();

  constructor(
    range: MacRange,
    private readonly randomOffset: RandomOffset = cryptoRandomOffset,
  ) {
    this.currentRange = range;
    this.allocator = new NextFitAllocator(range.size, randomOffset);
  }

  get range(): MacRange {
    return this.currentRange;
  }

  /** Bytes held by the bitmap (estimate), for benchmarks and metrics. */
  get bitmapBytes(): number {
    return this.allocator.byteSize;
  }

  /** Takes the next free MAC at or after the cursor, wrapping once, and records it for `owner`/`key`. */
  allocate(owner: string, key: string, options: HoldOptions = {}): MacAddress {
    const offset = this.allocator.take();
    if (offset < 0) throw this.exhausted();
    const mac = this.currentRange.valueAt(offset);
    this.index.record(owner, key, mac, options.state ?? 'pending', options.deadline ?? 0, options.since ?? 0);
    return MacAddress.fromValue(mac);
  }

  /** allocate(), returning the entry recorded. */
  allocateEntry(owner: string, key: string, options: HoldOptions = {}): PoolEntry {
    const offset = this.allocator.take();
    if (offset < 0) throw this.exhausted();
    return this.index.upsert(
      owner,
      key,
      this.currentRange.valueAt(offset),
      options.state ?? 'pending',
      options.deadline ?? 0,
      options.since ?? 0,
    );
  }

  /**
   * The MACs `count` allocations would hand out now, without recording anything or moving the cursor (dry-run
   * admission must answer the same and change nothing).
   */
  preview(count: number): MacAddress[] {
    const offsets = this.allocator.peek(count);
    if (offsets.length < count) throw this.exhausted();
    return offsets.map((offset) => MacAddress.fromValue(this.currentRange.valueAt(offset)));
  }

  /**
   * Records a MAC the user asked for, in or out of the range. Returns the entries of *other* owners that already
   * held it, so the caller can apply the duplicate policy; the MAC is recorded either way. Holding a MAC the owner
   * already holds under the same key changes nothing (an UPDATE that keeps a committed MAC keeps it committed).
   */
  hold(owner: string, key: string, mac: MacAddress, options: HoldOptions = {}): HoldResult {
    const holders = this.index.holders(mac.value);
    const others = holders.filter((e) => e.owner !== owner);
    const existing = holders.find((e) => e.owner === owner && e.key === key);
    if (existing !== undefined) return { entry: existing, created: false, others };
    const entry = this.index.upsert(
      owner,
      key,
      mac.value,
      options.state ?? 'pending',
      options.deadline ?? 0,
      options.since ?? 0,
    );
    if (this.currentRange.contains(mac.value)) this.allocator.mark(this.currentRange.offsetOf(mac.value));
    return { entry, created: true, others };
  }

  /** Marks one entry as seen persisted. */
  commitEntry(entry: PoolEntry): void {
    if (entry.state !== 'committed') this.index.setState(entry, 'committed', 0);
  }

  /**
   * Moves an entry to another owner, committed: an object admitted before it had a name (generateName) is now
   * persisted under its real one. The MAC never looks free in between.
   */
  rebind(entry: PoolEntry, owner: string): PoolEntry {
    const moved = this.hold(owner, entry.key, MacAddress.fromValue(entry.mac), {
      state: 'committed',
      since: entry.since,
    });
    this.commitEntry(moved.entry);
    this.removeEntry(entry);
    return moved.entry;
  }

  /** Every owner that holds at least one entry. */
  owners(): IterableIterator<string> {
    return this.index.owners();
  }

  /** Whether `entry` is still held (entries are views: compare them with this, not ===). */
  isCurrent(entry: PoolEntry): boolean {
    return this.index.isCurrent(entry);
  }

  /** Removes one entry (see PoolTransaction.rollback); the MAC is free again when it was the last holder. */
  releaseEntry(entry: PoolEntry): void {
    this.removeEntry(entry);
  }

  /** Marks `owner`'s entries for `mac` as seen persisted; returns false when the owner holds no such entry. */
  commit(owner: string, mac: MacAddress): boolean {
    let found = false;
    for (const entry of this.index.holders(mac.value)) {
      if (entry.owner !== owner) continue;
      this.index.setState(entry, 'committed', 0);
      found = true;
    }
    return found;
  }

  /** Releases every entry of `owner` (the object is gone); other owners of the same MACs keep theirs. */
  release(owner: string): PoolEntry[] {
    return this.index.removeAll(owner, this.freeMac);
  }

  /** Releases `owner`'s entries for one MAC (an update dropped or changed it). */
  releaseMac(owner: string, mac: MacAddress): PoolEntry[] {
    const entries = this.index.holders(mac.value).filter((e) => e.owner === owner);
    for (const entry of entries) this.removeEntry(entry);
    return entries;
  }

  macOf(entry: PoolEntry): MacAddress {
    return MacAddress.fromValue(entry.mac);
  }

  holders(mac: MacAddress): readonly PoolEntry[] {
    return this.index.holders(mac.value);
  }

  entriesOf(owner: string): readonly PoolEntry[] {
    return this.index.entriesOf(owner);
  }

  /** Pending entries whose deadline is at or before `now`. */
  expiredPending(now: number): PoolEntry[] {
    const expired: PoolEntry[] = [];
    for (const entry of this.index.pending()) if (entry.deadline <= now) expired.push(entry);
    return expired;
  }

  /**
   * Moves future allocations to a new range. Every existing entry is kept, in the new range or not; the bitmap is
   * rebuilt from the owner index and the cursor is re-randomised, as upstream does on a ConfigMap change.
   */
  setRange(range: MacRange): void {
    const allocator = new NextFitAllocator(range.size, this.randomOffset);
    for (const mac of this.index.macs()) if (range.contains(mac)) allocator.mark(range.offsetOf(mac));
    this.currentRange = range;
    this.allocator = allocator;
  }

  stats(): PoolStats {
    const size = this.currentRange.size;
    const used = this.allocator.usedCount;
    return {
      rangeStart: this.currentRange.start.toString(),
      rangeEnd: this.currentRange.end.toString(),
      size,
      used,
      free: size - used,
      outOfRange: this.index.macCount - used,
      pending: this.index.pendingCount,
      committed: this.index.committedCount,
      shared: this.index.sharedMacCount,
      vmDuplicates: this.index.trackedDuplicateMacCount,
    };
  }

  /** Gives a MAC whose last holder is gone back to the allocator when it is in the range. */
  private readonly freeMac = (mac: number): void => {
    if (this.currentRange.contains(mac)) this.allocator.release(this.currentRange.offsetOf(mac));
  };

  private removeEntry(entry: PoolEntry): void {
    if (this.index.remove(entry) && this.currentRange.contains(entry.mac)) {
      this.allocator.release(this.currentRange.offsetOf(entry.mac));
    }
  }

  private exhausted(): PoolException {
    return new PoolException(PoolExceptionCode.POOL_EXHAUSTED, 'the range is full');
  }
}
