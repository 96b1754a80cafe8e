import { type ObservedMac } from '../mutation/mutation';
import { type MacPool } from '../pool/mac-pool';
import { type PoolEntry } from '../pool/owner-index';

export interface ReconcileCounts {
  committed: number;
  recorded: number;
  released: number;
}

/** An owner recorded at admission before the object had a name: `<kind>/<namespace>/~<admission uid>`. */
export function isProvisionalOwner(owner: string): boolean {
  return owner.includes('/~');
}

function prefixOf(owner: string): string {
  return owner.slice(0, owner.lastIndexOf('/') + 1);
}

/**
 * Aligns the pool with persisted objects: what a persisted object carries is committed to it; what
 * its owner held but the object no longer carries is released — only that owner's entries, never another's.
 */
export class PoolReconciler {
  constructor(private readonly pool: MacPool) {}

  /**
   * A persisted object of `owner` carries `macs`. `persistedAt` is the admission time its persisted version
   * reflects (a VM's transaction timestamp): pending entries admitted later belong to an update not persisted yet
   * and are left alone. Pods are only admitted on CREATE: for them it is -Infinity, so a pod never releases a pending
   * entry — the one pending under its name may belong to a successor of the same name that this (older) version of
   * the object predates; the deadline check settles it.
   */
  observe(owner: string, macs: readonly ObservedMac[], persistedAt: number): ReconcileCounts {
    const counts: ReconcileCounts = { committed: 0, recorded: 0, released: 0 };
    const seen = new Set<string>();
    for (const { key, mac } of macs) {
      seen.add(`${key}\u0000${mac.value}`);
      const own = this.pool.entriesOf(owner).find((e) => e.key === key && e.mac === mac.value);
      if (own !== undefined) {
        if (own.state === 'pending') {
          this.pool.commitEntry(own);
          counts.committed++;
        }
        continue;
      }
      // Admitted with generateName: the entry waits under a provisional owner; the MAC says which one.
      const provisional = this.pool
        .holders(mac)
        .find((e) => e.key === key && isProvisionalOwner(e.owner) && prefixOf(e.owner) === prefixOf(owner));
      if (provisional !== undefined) {
        this.pool.rebind(provisional, owner);
        counts.committed++;
        continue;
      }
      // Admitted while we were down or before the namespace was managed: the object holds it all the same.
      this.pool.hold(owner, key, mac, { state: 'committed' });
      counts.recorded++;
    }
    for (const entry of [...this.pool.entriesOf(owner)]) {
      if (seen.has(`${entry.key}\u0000${entry.mac}`)) continue;
      if (entry.state === 'committed' || entry.since <= persistedAt) {
        this.pool.releaseEntry(entry);
        counts.released++;
      }
    }
    return counts;
  }

  /**
   * The object is gone: release its committed entries. Pending ones stay for the deadline sweep: they may belong to
   * a new object of the same name admitted meanwhile (a StatefulSet pod, a delete and re-create).
   */
  deleted(owner: string): number {
    const committed = this.pool.entriesOf(owner).filter((entry) => entry.state === 'committed');
    for (const entry of committed) this.pool.releaseEntry(entry);
    return committed.length;
  }

  /**
   * Settles pending entries past their deadline against a fresh list of their namespace (`listed`: each persisted
   * object's owner and the MACs it carries). An entry that a listed object carries is committed to it — a
   * provisional (generateName) entry is bound to that object's real name; any other is released, since no persisted
   * object holds it. Entries that changed since they were picked (committed or released by the watch meanwhile) are
   * left alone. An owner that carries the MAC under another key (a later webhook reordered the networks) keeps it
   * under that key.
   */
  settle(
    expired: readonly PoolEntry[],
    listed: ReadonlyMap<string, readonly ObservedMac[]>,
  ): ReconcileCounts {
    const counts: ReconcileCounts = { committed: 0, recorded: 0, released: 0 };
    const carriers = new Map<string, string[]>();
    for (const [owner, macs] of listed) {
      for (const { key, mac } of macs) {
        const id = `${key}\u0000${mac.value}`;
        const owners = carriers.get(id);
        if (owners === undefined) carriers.set(id, [owner]);
        else owners.push(owner);
      }
    }
    for (const entry of expired) {
      if (entry.state !== 'pending' || !this.pool.isCurrent(entry)) continue;
      const owners = carriers.get(`${entry.key}\u0000${entry.mac}`) ?? [];
      if (owners.includes(entry.owner)) {
        this.pool.commitEntry(entry);
        counts.committed++;
        continue;
      }
      const rekeyed = listed.get(entry.owner)?.find((m) => m.mac.value === entry.mac);
      if (rekeyed !== undefined) {
        const held = this.pool.hold(entry.owner, rekeyed.key, rekeyed.mac, { state: 'committed' });
        this.pool.commitEntry(held.entry);
        this.pool.releaseEntry(entry);
        counts.committed++;
        continue;
      }
      const named = isProvisionalOwner(entry.owner)
        ? (owners.find((o) => !this.holds(o, entry)) ?? owners[0])
        : undefined;
      if (named !== undefined) {
        this.pool.rebind(entry, named);
        counts.committed++;
      } else {
        this.pool.releaseEntry(entry);
        counts.released++;
      }
    }
    return counts;
  }

  private holds(owner: string, like: PoolEntry): boolean {
    return this.pool.entriesOf(owner).some((e) => e.key === like.key && e.mac === like.mac);
  }
}
