import { type MacAddress } from '../pool/mac-address';
import { type MacPool } from '../pool/mac-pool';

/** One MAC a persisted object carries, under the key the admission recorded it with. */
export interface ObservedMac {
  key: string;
  mac: MacAddress;
}

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
 * Aligns the pool with persisted objects (DESIGN.md §3): what a persisted object carries is committed to it; what
 * its owner held but the object no longer carries is released — only that owner's entries, never another's.
 */
export class PoolReconciler {
  constructor(private readonly pool: MacPool) {}

  /**
   * A persisted object of `owner` carries `macs`. `persistedAt` is the admission time its persisted version
   * reflects (a VM's transaction timestamp): pending entries admitted later belong to an update not persisted yet
   * and are left alone. Pods are only admitted on CREATE, so for them it is +Infinity.
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

  /** The object is gone: release every entry of its owner. */
  forget(owner: string): number {
    return this.pool.release(owner).length;
  }
}
