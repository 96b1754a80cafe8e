/** `pending`: admitted but not yet seen persisted (it has a deadline). `committed`: seen on a persisted object. */
export type EntryState = 'pending' | 'committed';

/**
 * One owner's claim on one MAC. `owner` is the object key (`pod/<ns>/<name>`, `vm/<ns>/<name>`), `key` the interface
 * or network inside it. `deadline` is the epoch millisecond after which a pending entry is checked against the API.
 */
export interface PoolEntry {
  readonly mac: number;
  readonly owner: string;
  readonly key: string;
  state: EntryState;
  deadline: number;
  /** Epoch ms of the admission that recorded it (0 when unknown, e.g. found at rebuild). */
  since: number;
}

/**
 * MAC → owners and owner → MACs. Several owners may hold one MAC (requested duplicates are allowed by policy);
 * removing one owner's entry never touches another owner's entry, so a shared MAC stays held while anyone holds it
 * (upstream deletes the whole MAC key, SPEC.md §13 item 2).
 */
export class OwnerIndex {
  // A MAC almost always has one holder, so it maps to the entry itself and only becomes an array when shared.
  private readonly byMac = new Map<number, PoolEntry | PoolEntry[]>();
  private readonly byOwner = new Map<string, PoolEntry[]>();
  private readonly pendingEntries = new Set<PoolEntry>();
  private committedEntries = 0;
  private sharedCount = 0;

  /** Distinct MACs held by at least one entry. */
  get macCount(): number {
    return this.byMac.size;
  }

  get ownerCount(): number {
    return this.byOwner.size;
  }

  get pendingCount(): number {
    return this.pendingEntries.size;
  }

  get committedCount(): number {
    return this.committedEntries;
  }

  /** MACs held by more than one distinct owner. */
  get sharedMacCount(): number {
    return this.sharedCount;
  }

  isHeld(mac: number): boolean {
    return this.byMac.has(mac);
  }

  holders(mac: number): readonly PoolEntry[] {
    const held = this.byMac.get(mac);
    if (held === undefined) return [];
    return Array.isArray(held) ? held : [held];
  }

  entriesOf(owner: string): readonly PoolEntry[] {
    return this.byOwner.get(owner) ?? [];
  }

  macs(): IterableIterator<number> {
    return this.byMac.keys();
  }

  owners(): IterableIterator<string> {
    return this.byOwner.keys();
  }

  pending(): IterableIterator<PoolEntry> {
    return this.pendingEntries.values();
  }

  /**
   * Records that `owner` holds `mac` under `key`. Recording the same (owner, key, mac) again updates its state and
   * deadline instead of adding a second entry (re-admission of the same object is idempotent).
   */
  upsert(owner: string, key: string, mac: number, state: EntryState, deadline: number, since = 0): PoolEntry {
    const existing = this.holders(mac).find((e) => e.owner === owner && e.key === key);
    if (existing !== undefined) {
      this.setState(existing, state, deadline);
      return existing;
    }
    const entry: PoolEntry = { mac, owner, key, state, deadline, since };
    const held = this.byMac.get(mac);
    if (held === undefined) {
      this.byMac.set(mac, entry);
    } else {
      const wasShared = OwnerIndex.isShared(held);
      const list = Array.isArray(held) ? held : [held];
      list.push(entry);
      if (list !== held) this.byMac.set(mac, list);
      if (!wasShared && OwnerIndex.isShared(list)) this.sharedCount++;
    }
    const owned = this.byOwner.get(owner);
    if (owned === undefined) this.byOwner.set(owner, [entry]);
    else owned.push(entry);
    this.countState(entry, +1);
    return entry;
  }

  setState(entry: PoolEntry, state: EntryState, deadline: number): void {
    this.countState(entry, -1);
    entry.state = state;
    entry.deadline = deadline;
    this.countState(entry, +1);
  }

  /** Removes one entry; returns true when it was the last holder of its MAC (the MAC is free again). */
  remove(entry: PoolEntry): boolean {
    const held = this.byMac.get(entry.mac);
    if (held === undefined) return false;
    let lastHolder: boolean;
    if (Array.isArray(held)) {
      const i = held.indexOf(entry);
      if (i < 0) return false;
      const wasShared = OwnerIndex.isShared(held);
      held.splice(i, 1);
      if (held.length === 1) this.byMac.set(entry.mac, held[0]);
      if (wasShared && !OwnerIndex.isShared(held)) this.sharedCount--;
      lastHolder = false;
    } else {
      if (held !== entry) return false;
      this.byMac.delete(entry.mac);
      lastHolder = true;
    }
    const owned = this.byOwner.get(entry.owner);
    if (owned !== undefined) {
      const i = owned.indexOf(entry);
      if (i >= 0) owned.splice(i, 1);
      if (owned.length === 0) this.byOwner.delete(entry.owner);
    }
    this.countState(entry, -1);
    return lastHolder;
  }

  private countState(entry: PoolEntry, delta: 1 | -1): void {
    if (entry.state === 'pending') {
      if (delta > 0) this.pendingEntries.add(entry);
      else this.pendingEntries.delete(entry);
    } else {
      this.committedEntries += delta;
    }
  }

  private static isShared(held: PoolEntry | readonly PoolEntry[]): boolean {
    if (!Array.isArray(held)) return false;
    const first = (held as readonly PoolEntry[])[0]?.owner;
    return (held as readonly PoolEntry[]).some((e) => e.owner !== first);
  }
}
