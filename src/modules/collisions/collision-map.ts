/** What the collision map needs of one running object; a reduced object is one as it is (no copy is made). */
export interface CollisionSubject {
  /** The object's 48-bit MAC values (a value listed twice counts once). */
  readonly macs: readonly number[];
  /** A VMI in a live migration: `status.migrationState.sourceState.migrationUID` (non-empty), else absent. */
  readonly sourceMigration?: string;
  /** A VMI in a live migration: `status.migrationState.targetState.migrationUID` (non-empty), else absent. */
  readonly targetMigration?: string;
}

/** A MAC whose collision started, changed or ended. */
export interface CollisionChange {
  readonly mac: number;
  /** The objects colliding on it now, sorted ascending; empty when it no longer collides. */
  readonly refs: readonly string[];
}

/**
 * The two VMIs of one live migration (decentralized or cross-namespace: a source and a target VMI) carry the same
 * MACs on purpose; sharing a non-empty source or target migration UID makes two objects one workload. Pods never
 * carry migration UIDs.
 */
export function sharesMigration(a: CollisionSubject, b: CollisionSubject): boolean {
  return (
    (a.sourceMigration !== undefined && a.sourceMigration === b.sourceMigration) ||
    (a.targetMigration !== undefined && a.targetMigration === b.targetMigration)
  );
}

function sameMacs(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameRefs(a: readonly string[] | undefined, b: readonly string[]): boolean {
  if (a === undefined) return b.length === 0;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * MAC → the running objects holding it, and the collisions that follow: an object collides on a MAC when another
 * holder of that MAC is not its live-migration partner. Objects are refs (`vmi/<ns>/<name>`, `pod/<ns>/<name>`);
 * which objects count (running, in a managed namespace, not a virt-launcher pod) is the caller's decision.
 *
 * Updates are incremental: `update` records an object's new state and marks the MACs it touched, `changes` settles
 * only those MACs and returns the collisions that differ from what it returned before, so a relist of unchanged
 * objects yields nothing and a caller reports each new or changed collision once. Memory per object is its subject
 * (held by reference) and one holder slot per MAC; a MAC with a single holder keeps the ref itself, not a list.
 */
export class CollisionMap {
  private readonly subjects = new Map<string, CollisionSubject>();
  private readonly holders = new Map<number, string | string[]>();
  private readonly collisions = new Map<number, readonly string[]>();
  private readonly touched = new Set<number>();

  /** Records `ref`'s current state (undefined: it no longer counts); call `changes` to settle. */
  update(ref: string, subject: CollisionSubject | undefined): void {
    const previous = this.subjects.get(ref);
    if (subject === undefined) {
      if (previous === undefined) return;
      this.subjects.delete(ref);
      for (const mac of previous.macs) this.release(mac, ref);
      return;
    }
    this.subjects.set(ref, subject);
    if (previous !== undefined && sameMacs(previous.macs, subject.macs)) {
      // Same MACs: only a migration change can change a collision.
      if (
        previous.sourceMigration !== subject.sourceMigration ||
        previous.targetMigration !== subject.targetMigration
      ) {
        for (const mac of subject.macs) this.touch(mac);
      }
      return;
    }
    if (previous !== undefined) for (const mac of previous.macs) this.release(mac, ref);
    for (const mac of subject.macs) this.hold(mac, ref);
  }

  /** Settles the MACs touched since the last call; returns those whose collision differs from before. */
  changes(): CollisionChange[] {
    const changes: CollisionChange[] = [];
    for (const mac of this.touched) {
      const refs = this.colliding(mac);
      const before = this.collisions.get(mac);
      if (sameRefs(before, refs)) continue;
      if (refs.length === 0) this.collisions.delete(mac);
      else this.collisions.set(mac, refs);
      changes.push({ mac, refs });
    }
    this.touched.clear();
    return changes;
  }

  /** `update` then `changes`, for one object. */
  set(ref: string, subject: CollisionSubject): CollisionChange[] {
    this.update(ref, subject);
    return this.changes();
  }

  /** `update(ref, undefined)` then `changes`, for one object. */
  remove(ref: string): CollisionChange[] {
    this.update(ref, undefined);
    return this.changes();
  }

  /** The objects colliding on `mac` as last settled, sorted; undefined when it does not collide. */
  get(mac: number): readonly string[] | undefined {
    return this.collisions.get(mac);
  }

  /** Every colliding MAC as last settled, with its objects. */
  entries(): IterableIterator<[number, readonly string[]]> {
    return this.collisions.entries();
  }

  /** Number of colliding MACs as last settled. */
  get size(): number {
    return this.collisions.size;
  }

  /** Number of objects the map counts. */
  get objects(): number {
    return this.subjects.size;
  }

  private touch(mac: number): void {
    this.touched.add(mac);
  }

  private hold(mac: number, ref: string): void {
    this.touch(mac);
    const current = this.holders.get(mac);
    if (current === undefined) this.holders.set(mac, ref);
    else if (typeof current === 'string') {
      if (current !== ref) this.holders.set(mac, [current, ref]);
    } else if (!current.includes(ref)) current.push(ref);
  }

  private release(mac: number, ref: string): void {
    this.touch(mac);
    const current = this.holders.get(mac);
    if (current === undefined) return;
    if (typeof current === 'string') {
      if (current === ref) this.holders.delete(mac);
      return;
    }
    const index = current.indexOf(ref);
    if (index >= 0) current.splice(index, 1);
    if (current.length === 1) this.holders.set(mac, current[0]);
  }

  /** The holders of `mac` that have at least one holder other than their migration partner, sorted. */
  private colliding(mac: number): string[] {
    const current = this.holders.get(mac);
    if (current === undefined || typeof current === 'string') return [];
    const subjects = current.map((ref) => this.subjects.get(ref)!);
    const migrating = subjects.some(
      (s) => s.sourceMigration !== undefined || s.targetMigration !== undefined,
    );
    const refs = migrating
      ? current.filter((_, i) => subjects.some((other, j) => j !== i && !sharesMigration(subjects[i], other)))
      : [...current];
    return refs.sort();
  }
}
