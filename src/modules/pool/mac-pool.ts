import { MacAddress } from './mac-address';
import { type MacRange } from './mac-range';
import { type MacSpan, spansContain } from './mac-span';
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

/** Where allocation may go now (the leader module sets them; see docs/architecture.md, the hand-over fence). */
export interface AllocationBounds {
  /** The only MACs allocation may hand out; undefined: any in the range. Previews ignore it. */
  claim?: readonly MacSpan[];
  /** MACs allocation and previews skip, as if used. */
  blocked: readonly MacSpan[];
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
  private bounds: AllocationBounds = { blocked: [] };
  private allocatedTotal = 0;

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

  /** MACs allocated since the pool was made (not requested ones): the leader sizes its claim by their rate. */
  get allocations(): number {
    return this.allocatedTotal;
  }

  /** Bytes held by the bitmap (estimate), for benchmarks and metrics. */
  get bitmapBytes(): number {
    return this.allocator.byteSize;
  }

  /**
   * Takes the next free MAC at or after the cursor, wrapping once, skipping blocked ones, and records it for
   * `owner`/`key`. Outside the claim (when there is one) nothing is taken: CLAIM_EXHAUSTED.
   */
  allocate(owner: string, key: string, options: HoldOptions = {}): MacAddress {
    const mac = this.takeNext();
    this.index.record(owner, key, mac, options.state ?? 'pending', options.deadline ?? 0, options.since ?? 0);
    return MacAddress.fromValue(mac);
  }

  /** allocate(), returning the entry recorded. */
  allocateEntry(owner: string, key: string, options: HoldOptions = {}): PoolEntry {
    return this.index.upsert(
      owner,
      key,
      this.takeNext(),
      options.state ?? 'pending',
      options.deadline ?? 0,
      options.since ?? 0,
    );
  }

  /** Sets where allocation may go (see AllocationBounds). */
  setBounds(bounds: AllocationBounds): void {
    this.bounds = bounds;
    this.allocator.block(this.blockedOffsets(this.currentRange));
  }

  /**
   * Whether the next `count` allocations lie inside the claim (true without a claim, or when fewer are free: the
   * allocation then fails as exhausted or held back, not for the claim).
   */
  claimCovers(count: number): boolean {
    const claim = this.bounds.claim;
    if (claim === undefined) return true;
    const offsets = this.allocator.peek(count);
    return offsets.every((offset) => spansContain(claim, this.currentRange.valueAt(offset)));
  }

  /**
   * Refuses, before anything is taken, `count` allocations that would leave the claim part way (CLAIM_EXHAUSTED): a
   * request takes all its MACs or none of them, so its retry after the claim grew gets what a dry run said.
   */
  assertClaimed(count: number): void {
    if (this.claimCovers(count)) return;
    throw new PoolException(
      PoolExceptionCode.CLAIM_EXHAUSTED,
      `the next ${count === 1 ? 'MAC lies' : `${count} MACs lie`} partly outside this leader's claim`,
    );
  }

  /**
   * The spans from the cursor up to the `count`-th MAC allocation would hand out next (blocked ones skipped): what a
   * leader claims before it allocates. Empty when no MAC is free; split where the range wraps.
   */
  claimAhead(count: number): MacSpan[] {
    const offsets = this.allocator.peek(count);
    if (offsets.length === 0) return [];
    const range = this.currentRange;
    const from = this.allocator.position;
    const to = offsets[offsets.length - 1];
    if (to >= from) return [{ first: range.valueAt(from), last: range.valueAt(to) }];
    return [
      { first: range.valueAt(from), last: range.end.value },
      { first: range.start.value, last: range.valueAt(to) },
    ];
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
    allocator.block(this.blockedOffsets(range));
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

  /** Takes the MAC allocation hands out next and returns its value; throws when there is none or the claim ends. */
  private takeNext(): number {
    const offset = this.allocator.next();
    if (offset < 0) throw this.exhausted();
    const mac = this.currentRange.valueAt(offset);
    const claim = this.bounds.claim;
    if (claim !== undefined && !spansContain(claim, mac)) {
      throw new PoolException(
        PoolExceptionCode.CLAIM_EXHAUSTED,
        `the next MAC ${MacAddress.format(mac)} lies outside this leader's claim`,
      );
    }
    this.allocator.takeAt(offset);
    this.allocatedTotal++;
    return mac;
  }

  /** The blocked spans as offsets of `range`. */
  private blockedOffsets(range: MacRange): { from: number; to: number }[] {
    return this.bounds.blocked
      .filter((span) => span.last >= range.start.value && span.first <= range.end.value)
      .map((span) => ({
        from: range.offsetOf(Math.max(span.first, range.start.value)),
        to: range.offsetOf(Math.min(span.last, range.end.value)) + 1,
      }));
  }

  /** No free MAC for allocation: the range is full, or what is free is held back (blocked). */
  private exhausted(): PoolException {
    if (this.allocator.blocking && this.allocator.usedCount < this.currentRange.size) {
      return new PoolException(
        PoolExceptionCode.POOL_HELD_BACK,
        'the free MACs left lie in stretches a previous leader claimed, held back until its admissions settled',
      );
    }
    return new PoolException(PoolExceptionCode.POOL_EXHAUSTED, 'the range is full');
  }
}
