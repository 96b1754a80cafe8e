import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { describeError } from '../kube/kube-errors';
import { PodRepository } from '../kube/pod.repository';
import { VirtualMachineRepository } from '../kube/virtual-machine.repository';
import { type ObservedMac } from '../mutation/mutation';
import { type PoolEntry } from '../pool/owner-index';
import { PoolService } from '../pool/pool.service';
import { COMPACT, type Kind, observe, ownerOf } from './observed-object';
import { PoolReconciler } from './pool-reconciler';

const SWEEP_INTERVAL_MS = 5_000;
/** A namespace whose sweep list failed is tried again after 5 s, doubling up to 5 minutes. */
const SWEEP_RETRY_MAX_MS = 300_000;

/**
 * Settles pending entries past their deadline: their admission was not followed by a persisted object showing the
 * MAC (a later webhook or validation rejected it, or the watch has not caught up). Each `<kind>/<namespace>`
 * concerned is listed once, fresh from the API; what a persisted object carries is committed to it, the rest
 * released. A group whose list fails is left alone, with a back-off per group.
 *
 * The watches' full lists race the sweep's: the life cycle reports them (listStarted, listEnded) and the deletions
 * it sees (deleted), so that a sweep never settles on a snapshot older than what a relist applied, nor commits to
 * or releases for an object deleted while it listed.
 */
@Injectable()
export class PendingSweepService implements OnModuleDestroy {
  private readonly logger = new Logger(PendingSweepService.name);
  private readonly reconciler: PoolReconciler;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Full lists in flight (from list to onSync): the sweep waits, so a relist never undoes what it settled. */
  private listing = 0;
  /** Full lists applied so far: a sweep whose namespace list raced one of them leaves its group for next time. */
  private relists = 0;
  /** Owners deleted (watch) while the current sweep lists: their entries wait for the next sweep. */
  private deletedDuringSweep: Set<string> | undefined;
  /** Per `<kind>/<namespace>` whose sweep list failed: consecutive failures and when to try again. */
  private readonly retry = new Map<string, { failures: number; at: number }>();

  constructor(
    private readonly pools: PoolService,
    private readonly pods: PodRepository,
    private readonly vms: VirtualMachineRepository,
  ) {
    this.reconciler = new PoolReconciler(pools.pool);
  }

  /** Sweeps one after another, never overlapping: the next starts SWEEP_INTERVAL_MS after the last ended. */
  start(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.sweep().finally(() => this.start());
    }, SWEEP_INTERVAL_MS);
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** A full list of a watch started. */
  listStarted(): void {
    this.listing++;
  }

  /** That list ended: `applied` when its items were handed to the life cycle (not when it failed or was absent). */
  listEnded(applied: boolean): void {
    this.listing--;
    if (applied) this.relists++;
  }

  /** The watch showed `owner` deleted. */
  deleted(owner: string): void {
    this.deletedDuringSweep?.add(owner);
  }

  /** One sweep over every expired pending entry, group by group. */
  async sweep(now = Date.now()): Promise<void> {
    if (this.listing > 0) return;
    const groups = new Map<string, PoolEntry[]>();
    for (const entry of this.pools.pool.expiredPending(now)) {
      const group = entry.owner.slice(0, entry.owner.lastIndexOf('/')); // <kind>/<namespace>
      if ((this.retry.get(group)?.at ?? 0) > now) continue;
      const entries = groups.get(group);
      if (entries === undefined) groups.set(group, [entry]);
      else entries.push(entry);
    }
    try {
      for (const [group, entries] of groups) {
        if (this.stopped || this.listing > 0) break;
        await this.settleGroup(group, entries);
      }
    } finally {
      this.deletedDuringSweep = undefined;
    }
  }

  /** Lists one `<kind>/<namespace>` and settles its expired entries (see sweep). */
  private async settleGroup(group: string, entries: PoolEntry[]): Promise<void> {
    const [kind, namespace] = group.split('/') as [Kind, string];
    const relists = this.relists;
    this.deletedDuringSweep = new Set();
    let listed: Map<string, ObservedMac[]>;
    try {
      listed = await this.listNamespace(kind, namespace);
    } catch (error) {
      const failures = (this.retry.get(group)?.failures ?? 0) + 1;
      const delayMs = Math.min(SWEEP_INTERVAL_MS * 2 ** (failures - 1), SWEEP_RETRY_MAX_MS);
      this.retry.set(group, { failures, at: Date.now() + delayMs });
      this.logger.warn('cannot list a namespace to settle expired pending MACs, retrying later', {
        kind,
        namespace,
        expired: entries.length,
        retryInMs: delayMs,
        error: describeError(error),
      });
      return;
    }
    this.retry.delete(group);
    // A full list ran meanwhile (its snapshot may predate ours): settle next time, on top of what it applied.
    if (this.stopped || this.listing > 0 || this.relists !== relists) return;
    // An object deleted while we listed may still be in our list: not ours to commit to, nor to release for.
    const deleted = this.deletedDuringSweep;
    for (const owner of deleted) listed.delete(owner);
    const { committed, released } = this.reconciler.settle(
      entries.filter((entry) => !deleted.has(entry.owner)),
      listed,
    );
    if (committed + released > 0)
      this.logger.log('settled expired pending MACs', { kind, namespace, released, committed });
  }

  /** One namespace's objects of one kind, fresh from the API: owner → the MACs its persisted object carries. */
  private async listNamespace(kind: Kind, namespace: string): Promise<Map<string, ObservedMac[]>> {
    const repository = kind === 'pod' ? this.pods : this.vms;
    const { items, absent } = await repository.list(namespace, COMPACT[kind]);
    // Without the VM API we cannot tell what holds a VM's MAC: keep the entries until it is back.
    if (absent) throw new Error(`the ${kind} collection of namespace ${namespace} is not served`);
    const listed = new Map<string, ObservedMac[]>();
    for (const item of items) {
      const owner = ownerOf(kind, item);
      if (owner !== undefined) listed.set(owner, observe(kind, item).macs);
    }
    return listed;
  }
}
