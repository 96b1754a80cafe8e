import { type MacAddress } from './mac-address';
import { type HoldOptions, type MacPool } from './mac-pool';
import { type PoolEntry } from './owner-index';

/**
 * The pool changes of one admission request, for one owner. If the request is denied after some MACs were taken,
 * rollback() gives back exactly what this request added, never an entry the owner already had.
 */
export class PoolTransaction {
  private readonly added: PoolEntry[] = [];

  constructor(
    private readonly pool: MacPool,
    readonly owner: string,
    private readonly options: HoldOptions,
  ) {}

  allocate(key: string): MacAddress {
    const entry = this.pool.allocateEntry(this.owner, key, this.options);
    this.added.push(entry);
    return this.pool.macOf(entry);
  }

  /** Records a requested MAC; returns other owners' entries for it. */
  hold(key: string, mac: MacAddress): readonly PoolEntry[] {
    const result = this.pool.hold(this.owner, key, mac, this.options);
    if (result.created) this.added.push(result.entry);
    return result.others;
  }

  rollback(): void {
    for (const entry of this.added.splice(0)) this.pool.releaseEntry(entry);
  }
}
