import { type DuplicatePolicy } from '../../config/environment';
import { MacAddress } from '../pool/mac-address';
import { type MacPool } from '../pool/mac-pool';
import { PoolException, PoolExceptionCode } from '../pool/pool.exception';
import { PoolTransaction } from '../pool/pool-transaction';
import { MutationException, MutationExceptionCode } from './mutation.exception';

export interface ClaimOptions {
  dryRun: boolean;
  policy: DuplicatePolicy;
  /** When a pending entry is re-checked against the API (epoch ms). */
  deadline: number;
  /** When the request was admitted (epoch ms): VM updates commit only entries their persisted version covers. */
  since?: number;
}

/**
 * The MACs one admission request claims for one owner: requested ones (checked against other holders under the
 * duplicate policy) and allocated ones. A dry run computes the same answer — the same MACs, the same warnings or
 * denial — and changes neither the pool nor its cursor.
 */
export class MacClaims {
  readonly warnings: string[] = [];
  private readonly transaction: PoolTransaction;
  private readonly requestedInRange = new Set<number>();

  constructor(
    private readonly pool: MacPool,
    readonly owner: string,
    private readonly options: ClaimOptions,
  ) {
    this.transaction = new PoolTransaction(pool, owner, {
      state: 'pending',
      deadline: options.deadline,
      since: options.since ?? Date.now(),
    });
  }

  /** Records a MAC the object asks for; `what` names where it was asked (`interface eth0`). */
  request(key: string, mac: MacAddress, what: string): void {
    const others = this.options.dryRun
      ? this.pool.holders(mac).filter((e) => e.owner !== this.owner)
      : this.transaction.hold(key, mac);
    if (this.pool.range.contains(mac.value)) this.requestedInRange.add(mac.value);
    if (others.length === 0) return;
    const holders = [...new Set(others.map((e) => e.owner))].sort().join(', ');
    if (this.options.policy === 'Reject') {
      throw new MutationException(
        MutationExceptionCode.DUPLICATE_MAC,
        `MAC address ${mac} requested for ${what} of ${this.owner} is already in use by ${holders}`,
      );
    }
    this.warnings.push(`MAC address ${mac} requested for ${what} is already in use by ${holders}`);
  }

  /** Records a MAC the owner already had (an UPDATE that keeps it); no duplicate policy applies. */
  keep(key: string, mac: MacAddress): void {
    if (!this.options.dryRun) this.transaction.hold(key, mac);
    if (this.pool.range.contains(mac.value)) this.requestedInRange.add(mac.value);
  }

  /** Takes `keys.length` MACs from the pool, in order. */
  allocate(keys: readonly string[]): MacAddress[] {
    if (keys.length === 0) return [];
    try {
      if (!this.options.dryRun) return keys.map((key) => this.transaction.allocate(key));
      // A dry run records nothing, so MACs it "requested" above are still free in the pool: skip them.
      return this.pool
        .preview(keys.length + this.requestedInRange.size)
        .filter((mac) => !this.requestedInRange.has(mac.value))
        .slice(0, keys.length);
    } catch (error) {
      if (error instanceof PoolException && error.code === PoolExceptionCode.POOL_EXHAUSTED) {
        throw new MutationException(
          MutationExceptionCode.INTERNAL,
          `the range is full: no MAC left in ${this.pool.range} for ${this.owner}`,
        );
      }
      throw error;
    }
  }

  rollback(): void {
    this.transaction.rollback();
  }
}

/** Parses a MAC written in an object; the message names where it was written, with upstream's parse error. */
export function parseRequestedMac(text: unknown, where: string): MacAddress {
  if (typeof text !== 'string') {
    throw new MutationException(
      MutationExceptionCode.BAD_REQUEST,
      `${where}: MAC address must be a string, got ${JSON.stringify(text)}`,
    );
  }
  try {
    return MacAddress.parse(text);
  } catch {
    throw new MutationException(
      MutationExceptionCode.BAD_REQUEST,
      `${where}: address ${text}: invalid MAC address`,
    );
  }
}
