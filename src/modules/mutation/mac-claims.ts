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
  /** Whether this replica may still write the pool (the leader's fence), checked right before each write. */
  fence?: () => boolean;
}

/**
 * The MACs one admission request claims for one owner: requested ones (checked against other holders under the
 * duplicate policy) and allocated ones. A dry run computes the same answer — the same MACs, the same warnings or
 * denial — and changes neither the pool nor its cursor.
 */
export class MacClaims {
  readonly warnings: string[] = [];
  /** MACs held or allocated (or, in a dry run, that would be): what only the pool's holder may write. */
  writes = 0;
  private readonly transaction: PoolTransaction;
  /** Dry runs only: requested or kept MACs that are free in the pool now (see skipInPreview). */
  private readonly freeRequested = new Set<number>();

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
    this.writes++;
    this.checkFence();
    const others = this.options.dryRun
      ? this.pool.holders(mac).filter((e) => e.owner !== this.owner)
      : this.transaction.hold(key, mac);
    this.skipInPreview(mac);
    if (others.length === 0) return;
    const holders = [...new Set(others.map((e) => e.owner))].sort().join(', ');
    if (this.options.policy === 'Reject') {
      throw new MutationException(
        MutationExceptionCode.MAC_IN_USE,
        `MAC address ${mac} requested for ${what} of ${this.owner} is already in use by ${holders}`,
      );
    }
    this.warnings.push(`MAC address ${mac} requested for ${what} is already in use by ${holders}`);
  }

  /** A real request refuses to write once the fence says this replica no longer holds the pool (it rolls back). */
  private checkFence(): void {
    if (this.options.dryRun || this.options.fence === undefined || this.options.fence()) return;
    throw new MutationException(
      MutationExceptionCode.NOT_LEADER,
      `${this.owner}: this replica stopped holding the pool (leader) while admitting it`,
    );
  }

  /** Records a MAC the owner already had (an UPDATE that keeps it); no duplicate policy applies. */
  keep(key: string, mac: MacAddress): void {
    this.writes++;
    this.checkFence();
    if (!this.options.dryRun) this.transaction.hold(key, mac);
    this.skipInPreview(mac);
  }

  /**
   * A dry run records nothing, so a MAC it requests or keeps that is free in the pool now would still be offered by
   * the preview, while the real request holds it first. Only such MACs are skipped: one already held (the owner's
   * own, or another's) is not free, so the preview never offers it, and counting it would ask the pool for more free
   * MACs than the request needs (a nearly full range would then deny the dry run and admit the real request).
   */
  private skipInPreview(mac: MacAddress): void {
    if (!this.options.dryRun || !this.pool.range.contains(mac.value)) return;
    if (this.pool.holders(mac).length === 0) this.freeRequested.add(mac.value);
  }

  /** Takes `keys.length` MACs from the pool, in order. */
  allocate(keys: readonly string[]): MacAddress[] {
    if (keys.length === 0) return [];
    this.writes += keys.length;
    this.checkFence();
    try {
      if (!this.options.dryRun) {
        this.pool.assertClaimed(keys.length);
        return keys.map((key) => this.transaction.allocate(key));
      }
      return this.pool
        .preview(keys.length + this.freeRequested.size)
        .filter((mac) => !this.freeRequested.has(mac.value))
        .slice(0, keys.length);
    } catch (error) {
      if (!(error instanceof PoolException)) throw error;
      switch (error.code) {
        case PoolExceptionCode.POOL_EXHAUSTED:
          throw new MutationException(
            MutationExceptionCode.POOL_EXHAUSTED,
            `the range is full: no MAC left in ${this.pool.range} for ${this.owner}`,
          );
        case PoolExceptionCode.POOL_HELD_BACK:
          throw new MutationException(
            MutationExceptionCode.POOL_HELD_BACK,
            `no MAC free in ${this.pool.range} for ${this.owner} outside the stretches the previous leader claimed, which stay held back until the admissions it answered have settled (LEADER_ELECTION_HANDOVER_HOLD after the hand-over); retry later`,
          );
        case PoolExceptionCode.CLAIM_EXHAUSTED:
          throw new ClaimExhaustedException(
            `${this.owner}: ${error.message}, which could not be extended in time; retry in a few seconds`,
            keys.length,
          );
        default:
          throw error;
      }
    }
  }

  rollback(): void {
    this.transaction.rollback();
  }
}

/** CLAIM_EXHAUSTED, with how many MACs the request needs: the claim grows by at least that many. */
export class ClaimExhaustedException extends MutationException {
  constructor(
    message: string,
    readonly needed: number,
  ) {
    super(MutationExceptionCode.CLAIM_EXHAUSTED, message);
  }
}

/** Parses a MAC written in an object; the message names where it was written, with upstream's parse error. */
export function parseRequestedMac(text: unknown, where: string): MacAddress {
  if (typeof text !== 'string') {
    throw new MutationException(
      MutationExceptionCode.MAC_MALFORMED,
      `${where}: MAC address must be a string, got ${JSON.stringify(text)}`,
    );
  }
  let mac: MacAddress;
  try {
    mac = MacAddress.parse(text);
  } catch {
    throw new MutationException(
      MutationExceptionCode.MAC_MALFORMED,
      `${where}: address ${text}: invalid MAC address`,
    );
  }
  // A group address is valid syntax but no NIC can take it: the CNI plugin or the guest would fail far from here.
  if (mac.isMulticast) {
    throw new MutationException(
      MutationExceptionCode.MAC_MULTICAST,
      `${where}: MAC address ${text} is a multicast address (the lowest bit of the first octet is set); no network interface can use it`,
    );
  }
  return mac;
}
