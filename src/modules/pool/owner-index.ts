import { MacDirectory } from './mac-directory';

/** `pending`: admitted but not yet seen persisted (it has a deadline). `committed`: seen on a persisted object. */
export type EntryState = 'pending' | 'committed';

/**
 * One owner's claim on one MAC. `owner` is the object key (`pod/<ns>/<name>`, `vm/<ns>/<name>`), `key` the interface
 * or network inside it. `deadline` is the epoch millisecond after which a pending entry is checked against the API.
 *
 * An entry is a view of a row of the OwnerIndex, not the row itself: two views of one entry are different objects
 * (compare with OwnerIndex.isCurrent, not ===). `state` and `deadline` read the row while the entry is held, so a
 * view taken before a commit reads `committed` after it; once the entry is removed they keep what the view last read.
 */
export interface PoolEntry {
  readonly mac: number;
  readonly owner: string;
  readonly key: string;
  readonly state: EntryState;
  readonly deadline: number;
  /** Epoch ms of the admission that recorded it (0 when unknown, e.g. found at rebuild). */
  readonly since: number;
}

const NONE = -1;
/** S_PENDING_PREV of a committed entry: it is on no pending list. */
const NOT_PENDING = -2;

// Rows live in fixed-size pages, so growth copies nothing and the unused tail is at most one page.
const PAGE_SHIFT = 10;
const PAGE_SIZE = 1 << PAGE_SHIFT;
const PAGE_MASK = PAGE_SIZE - 1;

// Integer columns of an entry row, interleaved so that one row's integers share a cache line.
const S_OWNER = 0; // owner id; while the row is free, the next free row
const S_KEY = 1; // key id; NONE while the row is free
const S_MAC_NEXT = 2; // next row holding the same MAC, in insertion order
const S_OWNER_NEXT = 3; // next row of the same owner, in insertion order
const S_PENDING_PREV = 4; // NOT_PENDING when committed
const S_PENDING_NEXT = 5;
const S_GENERATION = 6; // bumped when the row is freed, so stale views are told apart from a reused row
const S_INTS = 7;
// Float columns: MACs (48 bits) and epoch milliseconds do not fit 32 bits.
const S_MAC = 0;
const S_DEADLINE = 1;
const S_SINCE = 2;
const S_FLOATS = 3;

// Integer columns of an owner row.
const O_START = 0; // arena page * ARENA_PAGE + offset of the name; NONE when the name is kept in `wideNames`
const O_LENGTH = 1;
const O_HASH = 2;
const O_HEAD = 3; // first entry row; NONE while the owner row is free
const O_TAIL = 4; // last entry row; while the owner row is free, the next free owner row
const O_INTS = 5;

// An owner table slot holds the owner id + 1 in its low OWNER_ID_BITS and the top bits of the name's hash above them
// (0: empty), so a probe compares hashes without reading the owner row; only a tag match reads the row and the name.
const OWNER_ID_BITS = 26;
const OWNER_ID_MASK = (1 << OWNER_ID_BITS) - 1;
/** Owner ids stay below this so id + 1 fits its bits: 67 M owners, far beyond what the rows' memory allows. */
const MAX_OWNERS = OWNER_ID_MASK - 1;

// The arena is pages too: growth copies nothing. A name never spans two pages.
const ARENA_SHIFT = 16;
const ARENA_PAGE = 1 << ARENA_SHIFT;
const ARENA_MASK = ARENA_PAGE - 1;
/** Owner names longer than this are kept as strings, like names with characters outside Latin-1. */
const MAX_ARENA_NAME = 4096;

/** The owner table slot of owner `id` whose name hashes to `hash`. */
function ownerSlot(id: number, hash: number): number {
  return ((hash >>> OWNER_ID_BITS) << OWNER_ID_BITS) | (id + 1);
}

/** Entry rows: paged typed-array columns plus a free list. Row numbers are stable while the entry is held. */
class EntryRows {
  private readonly ints: Int32Array[] = [];
  private readonly floats: Float64Array[] = [];
  private top = 0;
  private freeHead = NONE;

  int(row: number, field: number): number {
    return this.ints[row >>> PAGE_SHIFT][(row & PAGE_MASK) * S_INTS + field];
  }

  setInt(row: number, field: number, value: number): void {
    this.ints[row >>> PAGE_SHIFT][(row & PAGE_MASK) * S_INTS + field] = value;
  }

  float(row: number, field: number): number {
    return this.floats[row >>> PAGE_SHIFT][(row & PAGE_MASK) * S_FLOATS + field];
  }

  setFloat(row: number, field: number, value: number): void {
    this.floats[row >>> PAGE_SHIFT][(row & PAGE_MASK) * S_FLOATS + field] = value;
  }

  /** Writes every column of a fresh row at once (one page look-up per column kind); the row is on no list. */
  init(row: number, owner: number, key: number, mac: number, deadline: number, since: number): void {
    const ints = this.ints[row >>> PAGE_SHIFT];
    const i = (row & PAGE_MASK) * S_INTS;
    ints[i + S_OWNER] = owner;
    ints[i + S_KEY] = key;
    ints[i + S_MAC_NEXT] = NONE;
    ints[i + S_OWNER_NEXT] = NONE;
    ints[i + S_PENDING_PREV] = NOT_PENDING;
    ints[i + S_PENDING_NEXT] = NONE;
    const floats = this.floats[row >>> PAGE_SHIFT];
    const f = (row & PAGE_MASK) * S_FLOATS;
    floats[f + S_MAC] = mac;
    floats[f + S_DEADLINE] = deadline;
    floats[f + S_SINCE] = since;
  }

  isPending(row: number): boolean {
    return this.int(row, S_PENDING_PREV) !== NOT_PENDING;
  }

  /** True while `row` holds the entry a view of `generation` was taken from. */
  holds(row: number, generation: number): boolean {
    return row < this.top && this.int(row, S_KEY) !== NONE && this.int(row, S_GENERATION) === generation;
  }

  take(): number {
    if (this.freeHead !== NONE) {
      const row = this.freeHead;
      this.freeHead = this.int(row, S_OWNER);
      return row;
    }
    const row = this.top++;
    if (row >>> PAGE_SHIFT === this.ints.length) {
      this.ints.push(new Int32Array(PAGE_SIZE * S_INTS));
      this.floats.push(new Float64Array(PAGE_SIZE * S_FLOATS));
    }
    return row;
  }

  free(row: number): void {
    this.setInt(row, S_KEY, NONE);
    this.setInt(row, S_GENERATION, (this.int(row, S_GENERATION) + 1) | 0);
    this.setInt(row, S_OWNER, this.freeHead);
    this.freeHead = row;
  }
}

/** A view of one entry row (see PoolEntry). Only OwnerIndex creates them. */
class EntryView implements PoolEntry {
  readonly #rows: EntryRows;
  readonly #row: number;
  readonly #generation: number;
  #state: EntryState;
  #deadline: number;

  constructor(
    rows: EntryRows,
    row: number,
    readonly mac: number,
    readonly owner: string,
    readonly key: string,
    readonly since: number,
  ) {
    this.#rows = rows;
    this.#row = row;
    this.#generation = rows.int(row, S_GENERATION);
    this.#state = rows.isPending(row) ? 'pending' : 'committed';
    this.#deadline = rows.float(row, S_DEADLINE);
  }

  get state(): EntryState {
    if (this.#rows.holds(this.#row, this.#generation)) {
      this.#state = this.#rows.isPending(this.#row) ? 'pending' : 'committed';
    }
    return this.#state;
  }

  get deadline(): number {
    if (this.#rows.holds(this.#row, this.#generation))
      this.#deadline = this.#rows.float(this.#row, S_DEADLINE);
    return this.#deadline;
  }

  toJSON(): PoolEntry {
    const { mac, owner, key, state, deadline, since } = this;
    return { mac, owner, key, state, deadline, since };
  }

  /** The row `entry` views in `rows`, or NONE when it is not a view of a row `rows` still holds. */
  static rowOf(entry: PoolEntry, rows: EntryRows): number {
    if (!(entry instanceof EntryView) || entry.#rows !== rows) return NONE;
    return rows.holds(entry.#row, entry.#generation) ? entry.#row : NONE;
  }
}

/**
 * The prefix of VirtualMachine owners (`vm/<namespace>/<name>`): OwnerIndex counts the MACs two or more of their entries
 * hold (see OwnerIndex.trackedDuplicateMacCount).
 */
export const VM_OWNER_PREFIX = 'vm/';

/** Whether every code unit fits one byte, so the name can be stored in the Latin-1 arena. */
function fitsArena(name: string): boolean {
  if (name.length > MAX_ARENA_NAME) return false;
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) > 0xff) return false;
  return true;
}

/**
 * MAC → owners and owner → MACs, as the pool needs them. Several owners may hold one MAC (requested duplicates are
 * allowed by policy); removing one owner's entry never touches another owner's entry, so a shared MAC stays held while
 * anyone holds it.
 *
 * A pool holds up to millions of entries, so no JS object exists per entry: entries are rows of typed-array columns,
 * linked into one list per MAC, one per owner and one of pending entries; owner names are interned once as Latin-1
 * bytes in an arena, and keys (interface names, a handful of values) once as strings. A MacDirectory (direct arrays
 * for runs of MACs, a Map for scattered ones) finds the first row of a MAC, an open-addressing table the owner row of a
 * name. PoolEntry views are made only when asked for.
 *
 * Invariants: a MAC is in `macRows` exactly when its row list is non-empty; an owner is in `ownerTable` exactly when
 * it has an entry; an entry is on the pending list exactly when its state is pending, in the order it became pending;
 * `trackedDuplicates_` is the number of MACs whose row list holds two or more rows of owners named with
 * `trackedPrefix`.
 */
export class OwnerIndex {
  /** Char codes of the tracked prefix (Latin-1), compared with an owner's arena bytes without making its name. */
  private readonly trackedCodes: number[];

  /**
   * `trackedPrefix`: owners whose name starts with it are a class whose duplicates are counted (VirtualMachines by
   * default, for `kubevirt_kmp_duplicate_macs`); an empty prefix tracks every owner.
   */
  constructor(private readonly trackedPrefix: string = VM_OWNER_PREFIX) {
    if (!fitsArena(trackedPrefix))
      throw new RangeError(`the tracked owner prefix ${trackedPrefix} is not Latin-1`);
    this.trackedCodes = Array.from(trackedPrefix, (c) => c.charCodeAt(0));
  }

  private readonly rows = new EntryRows();

  /** The first row of each held MAC. */
  private readonly macRows = new MacDirectory();

  private readonly ownerPages: Int32Array[] = [];
  private ownerTop = 0;
  private ownerFree = NONE;
  private owners_ = 0;
  /** Owner slots (see ownerSlot; 0: empty), linear probing on the name hash, at most half full. */
  private ownerTable: Int32Array = new Int32Array(16);
  private arena: Buffer[] = [];
  /** Free offset in the last arena page (ARENA_PAGE when there is none). */
  private arenaTail = ARENA_PAGE;
  /** Arena bytes written, live or not. */
  private arenaUsed = 0;
  /** Arena bytes of removed owners, reclaimed by compaction when the arena would grow. */
  private arenaGarbage = 0;
  /**
   * Whether the name last passed to stage() sits, as Latin-1, in the last arena page from `arenaTail` on: written but
   * not yet part of the arena. Valid until the arena changes; addOwner adopts the bytes instead of copying them again.
   */
  private staged = false;
  private readonly wideNames = new Map<number, string>();

  private readonly keyIds = new Map<string, number>();
  private readonly keyNames: string[] = [];
  private readonly keyRefs: number[] = [];
  private readonly freeKeyIds: number[] = [];

  private pendingHead = NONE;
  private pendingTail = NONE;
  private pending_ = 0;
  private committed_ = 0;
  private shared_ = 0;
  private trackedDuplicates_ = 0;

  /** Distinct MACs held by at least one entry. */
  get macCount(): number {
    return this.macRows.size;
  }

  get ownerCount(): number {
    return this.owners_;
  }

  get pendingCount(): number {
    return this.pending_;
  }

  get committedCount(): number {
    return this.committed_;
  }

  /** Aligned chunks of MACs kept as direct arrays (see MacDirectory), for tests and memory estimates. */
  get denseMacChunkCount(): number {
    return this.macRows.denseChunkCount;
  }

  /** MACs held by more than one distinct owner. */
  get sharedMacCount(): number {
    return this.shared_;
  }

  /**
   * MACs held by two or more entries of tracked owners (by default VirtualMachine interfaces: two VMs, or two
   * interfaces of one VM). Kept up to date on every change at no cost to a MAC's first holder, so reading it is O(1).
   */
  get trackedDuplicateMacCount(): number {
    return this.trackedDuplicates_;
  }

  isHeld(mac: number): boolean {
    return this.firstRowOf(mac) !== NONE;
  }

  /** Whether `entry` is a view of an entry this index still holds (views of one entry are distinct objects). */
  isCurrent(entry: PoolEntry): boolean {
    return EntryView.rowOf(entry, this.rows) !== NONE;
  }

  /** A fresh array of views, in the order the holders were recorded. */
  holders(mac: number): PoolEntry[] {
    const result: PoolEntry[] = [];
    for (let row = this.firstRowOf(mac); row !== NONE; row = this.rows.int(row, S_MAC_NEXT)) {
      result.push(this.view(row, undefined));
    }
    return result;
  }

  /** A fresh array of views, in the order the entries were recorded. */
  entriesOf(owner: string): PoolEntry[] {
    const slot = this.ownerTable[this.ownerBucket(owner, this.stage(owner))];
    if (slot === 0) return [];
    const id = (slot & OWNER_ID_MASK) - 1;
    const result: PoolEntry[] = [];
    for (let row = this.ownerInt(id, O_HEAD); row !== NONE; row = this.rows.int(row, S_OWNER_NEXT)) {
      result.push(this.view(row, owner));
    }
    return result;
  }

  *macs(): IterableIterator<number> {
    // A snapshot: a caller may change the index while iterating.
    yield* this.macRows.macs();
  }

  *owners(): IterableIterator<string> {
    const ids: number[] = [];
    for (let id = 0; id < this.ownerTop; id++) if (this.ownerInt(id, O_HEAD) !== NONE) ids.push(id);
    for (const id of ids) yield this.ownerName(id);
  }

  *pending(): IterableIterator<PoolEntry> {
    const views: PoolEntry[] = [];
    for (let row = this.pendingHead; row !== NONE; row = this.rows.int(row, S_PENDING_NEXT)) {
      views.push(this.view(row, undefined));
    }
    yield* views;
  }

  /**
   * Records that `owner` holds `mac` under `key`. Recording the same (owner, key, mac) again updates its state and
   * deadline instead of adding a second entry (re-admission of the same object is idempotent).
   */
  upsert(owner: string, key: string, mac: number, state: EntryState, deadline: number, since = 0): PoolEntry {
    return this.view(this.record(owner, key, mac, state, deadline, since), owner);
  }

  /** upsert() without making a view: returns the row, for callers that need none (the allocation path). */
  record(owner: string, key: string, mac: number, state: EntryState, deadline: number, since = 0): number {
    const rows = this.rows;
    const hash = this.stage(owner);
    const ownerBucket = this.ownerBucket(owner, hash);
    const slot = this.ownerTable[ownerBucket];
    let ownerId = slot === 0 ? NONE : (slot & OWNER_ID_MASK) - 1;
    const first = this.macRows.get(mac);
    let keyId = this.keyIds.get(key);
    if (ownerId !== NONE && first !== NONE && keyId !== undefined) {
      for (let row = first; row !== NONE; row = rows.int(row, S_MAC_NEXT)) {
        if (rows.int(row, S_OWNER) === ownerId && rows.int(row, S_KEY) === keyId) {
          this.setRowState(row, state, deadline);
          return row;
        }
      }
    }
    if (ownerId === NONE) ownerId = this.addOwner(owner, hash, ownerBucket);
    if (keyId === undefined) keyId = this.addKey(key);
    this.keyRefs[keyId]++;
    const row = rows.take();
    rows.init(row, ownerId, keyId, mac, deadline, since);

    if (first === NONE) {
      this.macRows.set(mac, row);
    } else {
      if (this.isTrackedOwner(ownerId) && this.trackedRowsIn(first, 2) === 1) this.trackedDuplicates_++;
      const wasShared = this.isSharedList(first);
      let last = first;
      while (rows.int(last, S_MAC_NEXT) !== NONE) last = rows.int(last, S_MAC_NEXT);
      rows.setInt(last, S_MAC_NEXT, row);
      if (!wasShared && rows.int(first, S_OWNER) !== ownerId) this.shared_++;
    }

    const tail = this.ownerInt(ownerId, O_TAIL);
    if (tail === NONE) this.setOwnerInt(ownerId, O_HEAD, row);
    else rows.setInt(tail, S_OWNER_NEXT, row);
    this.setOwnerInt(ownerId, O_TAIL, row);

    if (state === 'pending') this.pushPending(row);
    else this.committed_++;
    return row;
  }

  setState(entry: PoolEntry, state: EntryState, deadline: number): void {
    const row = EntryView.rowOf(entry, this.rows);
    if (row !== NONE) this.setRowState(row, state, deadline);
  }

  /** Removes one entry; returns true when it was the last holder of its MAC (the MAC is free again). */
  remove(entry: PoolEntry): boolean {
    const row = EntryView.rowOf(entry, this.rows);
    return row === NONE ? false : this.removeRow(row);
  }

  /**
   * Removes every entry of `owner` (the object is gone), calling `freed` with each MAC it was the last holder of.
   * Returns views of the entries as they were, in the order they were recorded. Walks the owner's row list once: no
   * view is looked up again and the owner is dropped once.
   */
  removeAll(owner: string, freed: (mac: number) => void): PoolEntry[] {
    const bucket = this.ownerBucket(owner, this.stage(owner));
    const slot = this.ownerTable[bucket];
    if (slot === 0) return [];
    const id = (slot & OWNER_ID_MASK) - 1;
    const rows = this.rows;
    const result: PoolEntry[] = [];
    for (let row = this.ownerInt(id, O_HEAD); row !== NONE;) {
      result.push(this.view(row, owner));
      const next = rows.int(row, S_OWNER_NEXT);
      const mac = rows.float(row, S_MAC);
      if (this.unlinkMac(row, mac)) freed(mac);
      this.dropRow(row);
      row = next;
    }
    this.dropOwner(id, bucket);
    return result;
  }

  private removeRow(row: number): boolean {
    const rows = this.rows;
    const ownerId = rows.int(row, S_OWNER);
    const lastHolder = this.unlinkMac(row, rows.float(row, S_MAC));

    const head = this.ownerInt(ownerId, O_HEAD);
    const next = rows.int(row, S_OWNER_NEXT);
    if (head === row) {
      this.setOwnerInt(ownerId, O_HEAD, next);
      if (next === NONE) this.dropOwner(ownerId, NONE);
    } else {
      let prev = head;
      while (rows.int(prev, S_OWNER_NEXT) !== row) prev = rows.int(prev, S_OWNER_NEXT);
      rows.setInt(prev, S_OWNER_NEXT, next);
      if (next === NONE) this.setOwnerInt(ownerId, O_TAIL, prev);
    }
    this.dropRow(row);
    return lastHolder;
  }

  /** Takes `row` off its MAC's list; returns true when it was the last holder (the MAC is no longer held). */
  private unlinkMac(row: number, mac: number): boolean {
    const rows = this.rows;
    const first = this.macRows.get(mac);
    const next = rows.int(row, S_MAC_NEXT);
    if (first === row && next === NONE) {
      this.macRows.delete(mac);
      return true;
    }
    if (this.isTrackedOwner(rows.int(row, S_OWNER)) && this.trackedRowsIn(first, 3) === 2)
      this.trackedDuplicates_--;
    const wasShared = this.isSharedList(first);
    let newFirst = first;
    if (first === row) {
      newFirst = next;
      this.macRows.set(mac, next);
    } else {
      let prev = first;
      while (rows.int(prev, S_MAC_NEXT) !== row) prev = rows.int(prev, S_MAC_NEXT);
      rows.setInt(prev, S_MAC_NEXT, next);
    }
    if (wasShared && !this.isSharedList(newFirst)) this.shared_--;
    return false;
  }

  /** Takes an unlinked row off the pending list or the committed count, releases its key and frees it. */
  private dropRow(row: number): void {
    const rows = this.rows;
    if (rows.isPending(row)) this.unlinkPending(row);
    else this.committed_--;
    this.releaseKey(rows.int(row, S_KEY));
    rows.free(row);
  }

  private view(row: number, owner: string | undefined): PoolEntry {
    const rows = this.rows;
    return new EntryView(
      rows,
      row,
      rows.float(row, S_MAC),
      owner ?? this.ownerName(rows.int(row, S_OWNER)),
      this.keyNames[rows.int(row, S_KEY)],
      rows.float(row, S_SINCE),
    );
  }

  private setRowState(row: number, state: EntryState, deadline: number): void {
    const rows = this.rows;
    if (rows.isPending(row)) this.unlinkPending(row);
    else this.committed_--;
    rows.setFloat(row, S_DEADLINE, deadline);
    // Re-entering pending moves the entry to the end of the list, as a fresh admission would be.
    if (state === 'pending') this.pushPending(row);
    else this.committed_++;
  }

  private pushPending(row: number): void {
    const rows = this.rows;
    rows.setInt(row, S_PENDING_PREV, this.pendingTail);
    rows.setInt(row, S_PENDING_NEXT, NONE);
    if (this.pendingTail === NONE) this.pendingHead = row;
    else rows.setInt(this.pendingTail, S_PENDING_NEXT, row);
    this.pendingTail = row;
    this.pending_++;
  }

  private unlinkPending(row: number): void {
    const rows = this.rows;
    const prev = rows.int(row, S_PENDING_PREV);
    const next = rows.int(row, S_PENDING_NEXT);
    if (prev === NONE) this.pendingHead = next;
    else rows.setInt(prev, S_PENDING_NEXT, next);
    if (next === NONE) this.pendingTail = prev;
    else rows.setInt(next, S_PENDING_PREV, prev);
    rows.setInt(row, S_PENDING_PREV, NOT_PENDING);
    rows.setInt(row, S_PENDING_NEXT, NONE);
    this.pending_--;
  }

  /** Whether the MAC list starting at `first` holds entries of more than one owner. */
  private isSharedList(first: number): boolean {
    const rows = this.rows;
    const owner = rows.int(first, S_OWNER);
    for (let row = rows.int(first, S_MAC_NEXT); row !== NONE; row = rows.int(row, S_MAC_NEXT)) {
      if (rows.int(row, S_OWNER) !== owner) return true;
    }
    return false;
  }

  /** Rows of tracked owners in the MAC list starting at `first`, counted up to `limit`. */
  private trackedRowsIn(first: number, limit: number): number {
    const rows = this.rows;
    let count = 0;
    for (let row = first; row !== NONE && count < limit; row = rows.int(row, S_MAC_NEXT)) {
      if (this.isTrackedOwner(rows.int(row, S_OWNER))) count++;
    }
    return count;
  }

  /** Whether owner `id`'s name starts with the tracked prefix, read from its arena bytes (no string is made). */
  private isTrackedOwner(id: number): boolean {
    const codes = this.trackedCodes;
    const start = this.ownerInt(id, O_START);
    if (start === NONE) return (this.wideNames.get(id) as string).startsWith(this.trackedPrefix);
    if (this.ownerInt(id, O_LENGTH) < codes.length) return false;
    const page = this.arena[start >>> ARENA_SHIFT];
    const offset = start & ARENA_MASK;
    for (let i = 0; i < codes.length; i++) if (page[offset + i] !== codes[i]) return false;
    return true;
  }

  private firstRowOf(mac: number): number {
    return this.macRows.get(mac);
  }

  // --- owners ----------------------------------------------------------------------------------------------------

  private ownerInt(id: number, field: number): number {
    return this.ownerPages[id >>> PAGE_SHIFT][(id & PAGE_MASK) * O_INTS + field];
  }

  private setOwnerInt(id: number, field: number, value: number): void {
    this.ownerPages[id >>> PAGE_SHIFT][(id & PAGE_MASK) * O_INTS + field] = value;
  }

  /** The bucket holding `name`'s owner row, or the empty bucket where it would go. */
  private ownerBucket(name: string, hash: number): number {
    const table = this.ownerTable;
    const mask = table.length - 1;
    const tag = hash >>> OWNER_ID_BITS;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = table[i];
      if (slot === 0) return i;
      if (slot >>> OWNER_ID_BITS === tag) {
        const id = (slot & OWNER_ID_MASK) - 1;
        if (this.ownerInt(id, O_HASH) === hash && this.ownerIs(id, name)) return i;
      }
    }
  }

  /**
   * The name's hash (FNV-1a over the code units, then mixed), and the name staged past the arena's tail when it is Latin-1 and fits the last page (see
   * `staged`). One pass over the string does both: reading a string's characters is the costly part of a look-up
   * (names built by concatenation are not flat), so the compare in ownerIs and the copy in addOwner then read bytes.
   */
  private stage(name: string): number {
    const length = name.length;
    let h = 0x811c9dc5 ^ length;
    if (length <= MAX_ARENA_NAME && this.arenaTail + length <= ARENA_PAGE) {
      const bytes = this.arena[this.arena.length - 1];
      const offset = this.arenaTail;
      let bits = 0;
      for (let i = 0; i < length; i++) {
        const c = name.charCodeAt(i);
        bits |= c;
        bytes[offset + i] = c;
        h = Math.imul(h ^ c, 0x01000193);
      }
      this.staged = bits <= 0xff;
    } else {
      for (let i = 0; i < length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
      this.staged = false;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    return h ^ (h >>> 13);
  }

  private ownerIs(id: number, name: string): boolean {
    const start = this.ownerInt(id, O_START);
    if (start === NONE) return this.wideNames.get(id) === name;
    if (this.ownerInt(id, O_LENGTH) !== name.length) return false;
    const page = this.arena[start >>> ARENA_SHIFT];
    const offset = start & ARENA_MASK;
    if (this.staged) {
      const staged = this.arena[this.arena.length - 1];
      const tail = this.arenaTail;
      for (let i = 0; i < name.length; i++) if (page[offset + i] !== staged[tail + i]) return false;
      return true;
    }
    for (let i = 0; i < name.length; i++) if (page[offset + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  private ownerName(id: number): string {
    const start = this.ownerInt(id, O_START);
    if (start === NONE) return this.wideNames.get(id) as string;
    const length = this.ownerInt(id, O_LENGTH);
    // An empty name may point just past the last page (there may be no page at all): it reads no byte.
    if (length === 0) return '';
    const offset = start & ARENA_MASK;
    return this.arena[start >>> ARENA_SHIFT].toString('latin1', offset, offset + length);
  }

  /** Adds an owner row for `name`, into `bucket` (from ownerBucket, with no insertion since). */
  private addOwner(name: string, hash: number, bucket: number): number {
    let id = this.ownerFree;
    if (id !== NONE) {
      this.ownerFree = this.ownerInt(id, O_TAIL);
    } else {
      if (this.ownerTop === MAX_OWNERS)
        throw new RangeError(`the owner index holds at most ${MAX_OWNERS} owners`);
      id = this.ownerTop++;
      if (id >>> PAGE_SHIFT === this.ownerPages.length)
        this.ownerPages.push(new Int32Array(PAGE_SIZE * O_INTS));
    }
    // Not yet an owner for compaction, which may run below.
    this.setOwnerInt(id, O_HEAD, NONE);
    this.setOwnerInt(id, O_START, NONE);
    if (this.staged) {
      // stage() already wrote the name at the tail.
      this.setOwnerInt(id, O_START, (this.arena.length - 1) * ARENA_PAGE + this.arenaTail);
      this.arenaTail += name.length;
      this.arenaUsed += name.length;
      this.staged = false;
    } else if (fitsArena(name)) {
      if (this.arenaTail + name.length > ARENA_PAGE) this.makeArenaRoom(name.length);
      const page = this.arena.length - 1;
      const bytes = this.arena[page];
      const offset = this.arenaTail;
      // Names are short: a byte loop is cheaper than Buffer.write's call.
      for (let i = 0; i < name.length; i++) bytes[offset + i] = name.charCodeAt(i);
      this.setOwnerInt(id, O_START, page * ARENA_PAGE + offset);
      this.arenaTail += name.length;
      this.arenaUsed += name.length;
    } else {
      this.setOwnerInt(id, O_START, NONE);
      this.wideNames.set(id, name);
    }
    this.setOwnerInt(id, O_LENGTH, name.length);
    this.setOwnerInt(id, O_HASH, hash);
    this.setOwnerInt(id, O_TAIL, NONE);
    this.ownerTable[bucket] = ownerSlot(id, hash);
    if (++this.owners_ * 2 > this.ownerTable.length)
      this.ownerTable = this.rehashOwners(this.ownerTable.length * 2);
    return id;
  }

  /** Frees owner row `id`, whose entries are all gone; `hole` is its table slot when the caller knows it, else NONE. */
  private dropOwner(id: number, hole: number): void {
    const table = this.ownerTable;
    const mask = table.length - 1;
    if (hole === NONE) {
      const slot = ownerSlot(id, this.ownerInt(id, O_HASH));
      hole = this.ownerInt(id, O_HASH) & mask;
      while (table[hole] !== slot) hole = (hole + 1) & mask;
    }
    // Backward-shift deletion: move later slots of the probe run into the hole unless their home lies cyclically in
    // (hole, j], so every look-up still finds them.
    for (let j = (hole + 1) & mask; table[j] !== 0; j = (j + 1) & mask) {
      const home = this.ownerInt((table[j] & OWNER_ID_MASK) - 1, O_HASH) & mask;
      const stays = hole < j ? home > hole && home <= j : home > hole || home <= j;
      if (!stays) {
        table[hole] = table[j];
        hole = j;
      }
    }
    table[hole] = 0;
    if (this.ownerInt(id, O_START) === NONE) this.wideNames.delete(id);
    else this.arenaGarbage += this.ownerInt(id, O_LENGTH);
    this.setOwnerInt(id, O_HEAD, NONE);
    this.setOwnerInt(id, O_TAIL, this.ownerFree);
    this.ownerFree = id;
    this.owners_--;
  }

  private rehashOwners(size: number): Int32Array {
    const table = new Int32Array(size);
    const mask = size - 1;
    for (const slot of this.ownerTable) {
      if (slot === 0) continue;
      let i = this.ownerInt((slot & OWNER_ID_MASK) - 1, O_HASH) & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = slot;
    }
    return table;
  }

  /**
   * Makes room for `bytes` more in the last page: compacts when at least half the bytes written are names of removed
   * owners (so churn does not grow the arena; each compaction frees as much as it copies), else adds a page.
   */
  private makeArenaRoom(bytes: number): void {
    if (this.arenaGarbage > 0 && this.arenaGarbage * 2 >= this.arenaUsed) {
      const old = this.arena;
      this.arena = [];
      this.arenaTail = ARENA_PAGE;
      this.arenaUsed = 0;
      this.arenaGarbage = 0;
      for (let id = 0; id < this.ownerTop; id++) {
        const start = this.ownerInt(id, O_START);
        if (this.ownerInt(id, O_HEAD) === NONE || start === NONE) continue;
        const length = this.ownerInt(id, O_LENGTH);
        if (this.arenaTail + length > ARENA_PAGE) this.addArenaPage();
        // Names are short: a byte loop is cheaper than a copy call per name.
        const from = old[start >>> ARENA_SHIFT];
        const offset = start & ARENA_MASK;
        const to = this.arena[this.arena.length - 1];
        for (let i = 0; i < length; i++) to[this.arenaTail + i] = from[offset + i];
        this.setOwnerInt(id, O_START, (this.arena.length - 1) * ARENA_PAGE + this.arenaTail);
        this.arenaTail += length;
        this.arenaUsed += length;
      }
    }
    if (this.arenaTail + bytes > ARENA_PAGE) this.addArenaPage();
  }

  private addArenaPage(): void {
    this.arena.push(Buffer.alloc(ARENA_PAGE));
    this.arenaTail = 0;
  }

  // --- keys ------------------------------------------------------------------------------------------------------

  private addKey(key: string): number {
    const id = this.freeKeyIds.pop() ?? this.keyNames.length;
    this.keyIds.set(key, id);
    this.keyNames[id] = key;
    this.keyRefs[id] = 0;
    return id;
  }

  private releaseKey(id: number): void {
    if (--this.keyRefs[id] > 0) return;
    this.keyIds.delete(this.keyNames[id]);
    this.keyNames[id] = '';
    this.freeKeyIds.push(id);
  }
}
