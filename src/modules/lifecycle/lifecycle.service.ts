import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { ReadinessService } from '../health/readiness.service';
import { describeError } from '../kube/kube-errors';
import { PodRepository } from '../kube/pod.repository';
import { type CollectionWatch, type ListResult, type WatchEventType } from '../kube/resource-watch';
import { VirtualMachineRepository } from '../kube/virtual-machine.repository';
import { NamespaceScopeService } from '../namespaces/namespace-scope.service';
import { PoolService } from '../pool/pool.service';
import { LegacyFinalizerService } from './legacy-finalizer.service';
import { type Kind, OBSERVE, type Observed, type ObservedObject, ownerOf } from './observed-object';
import { PendingSweepService } from './pending-sweep.service';
import { PoolReconciler, isProvisionalOwner } from './pool-reconciler';

/**
 * Keeps the pool equal to what persisted objects hold: rebuilds it from a list of VMs and Pods (metadata only)
 * before the first allocation, commits admitted MACs when the watch shows them persisted, binds generateName objects
 * to their real names, and releases what deleted or updated objects no longer hold. Pending entries past their
 * deadline are the PendingSweepService's; VMs held back by the legacy finalizer the LegacyFinalizerService's.
 */
@Injectable()
export class LifecycleService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(LifecycleService.name);
  private readonly reconciler: PoolReconciler;
  private readonly objects: Record<Kind, Map<string, Observed>> = { pod: new Map(), vm: new Map() };
  private readonly watches: CollectionWatch[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private kubevirtAbsent = false;

  constructor(
    private readonly pools: PoolService,
    private readonly scope: NamespaceScopeService,
    private readonly pods: PodRepository,
    private readonly vms: VirtualMachineRepository,
    private readonly sweeper: PendingSweepService,
    private readonly finalizers: LegacyFinalizerService,
    readiness: ReadinessService,
  ) {
    this.reconciler = new PoolReconciler(pools.pool);
    readiness.register('pool', () => (pools.ready ? undefined : 'rebuilding the pool from the cluster'));
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: unknown) =>
      this.logger.error('start failed', { error: describeError(error) }),
    );
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.resyncTimer);
    for (const watch of this.watches) watch.stop();
  }

  private async start(): Promise<void> {
    const started = Date.now();
    // The lists are fetched while the namespaces and the webhook configuration are read, and applied once those are
    // known. Listening for scope changes starts before anything is applied: a label or selector change after that
    // re-applies what was already listed (the scope's own start-up sync does not count as one).
    const scopeKnown = this.scope.synced.then(() => this.scope.onChange(() => this.scheduleResync()));
    // VMs are applied first (a virt-launcher pod is skipped when its VM exists), but both lists are fetched at once:
    // the API server encodes pods while the VMs are parsed and applied. The pod list waits for the VMs' before it
    // is applied.
    let vmsSynced: Promise<void> = Promise.resolve();
    const vms = this.watch('vm', () => scopeKnown);
    const pods = this.watch('pod', async () => {
      await scopeKnown;
      await vmsSynced;
    });
    vmsSynced = vms.start();
    await Promise.all([vmsSynced, pods.start()]);
    if (this.stopped) return;
    this.pools.ready = true;
    const { used, outOfRange, shared } = this.pools.pool.stats();
    this.logger.log('pool rebuilt', {
      durationMs: Date.now() - started,
      vms: this.objects.vm.size,
      pods: this.objects.pod.size,
      used,
      outOfRange,
      shared,
    });
    this.sweeper.start();
  }

  /** `before`: what a list of this kind waits for, once fetched, before it is applied. */
  private watch(kind: Kind, before: () => Promise<void>): CollectionWatch {
    const repository: PodRepository | VirtualMachineRepository = kind === 'pod' ? this.pods : this.vms;
    const watch = repository.watch({
      reduce: OBSERVE[kind],
      aroundList: async (list) => {
        const result = await this.trackList(kind, list);
        await before();
        return result;
      },
      onSync: (items) => {
        try {
          this.resync(kind, items);
        } finally {
          this.sweeper.listEnded(true);
        }
      },
      onEvent: (type, object) => this.handle(kind, type, object),
      onError: (error) =>
        this.logger.warn('watch interrupted, resuming', { kind, error: describeError(error) }),
    });
    this.watches.push(watch);
    return watch;
  }

  /**
   * Tells the sweeper a full list is in flight (until onSync applied it, or it failed), and logs KubeVirt coming and
   * going: without it the VM collection is absent, which is no error (a Multus-only cluster gets a ready manager).
   */
  private async trackList(
    kind: Kind,
    list: () => Promise<ListResult<ObservedObject>>,
  ): Promise<ListResult<ObservedObject>> {
    this.sweeper.listStarted();
    let result: ListResult<ObservedObject>;
    try {
      result = await list();
    } catch (error) {
      this.sweeper.listEnded(false);
      throw error;
    }
    if (result.absent) this.sweeper.listEnded(false); // no onSync follows
    const absent = result.absent === true;
    if (kind === 'vm' && absent !== this.kubevirtAbsent) {
      this.kubevirtAbsent = absent;
      if (this.kubevirtAbsent) this.logger.log('KubeVirt is not installed: no VirtualMachines to track');
      else this.logger.log('KubeVirt VirtualMachines are served now: watching them');
    }
    return result;
  }

  private handle(kind: Kind, type: WatchEventType, object: ObservedObject): void {
    const owner = ownerOf(kind, object);
    if (owner === undefined) return;
    if (type === 'DELETED') {
      this.sweeper.deleted(owner);
      const { namespace, name } = this.objects[kind].get(owner) ?? object.observed;
      if (kind === 'vm') this.finalizers.forget(namespace, name);
      this.objects[kind].delete(owner);
      const released = this.reconciler.deleted(owner);
      if (released > 0)
        this.logger.debug('object deleted: MACs released', { kind, namespace, name, released });
      return;
    }
    const { observed } = object;
    this.objects[kind].set(owner, observed);
    this.apply(kind, owner, observed);
  }

  /**
   * Records an object's MACs when its namespace is managed, or when the pool already knows the object; hands a VM's
   * legacy finalizer state to the LegacyFinalizerService (which has its own rule for namespaces).
   */
  private apply(kind: Kind, owner: string, observed: Observed): void {
    if (kind === 'vm')
      this.finalizers.observe(observed.namespace, observed.name, observed.legacyFinalizerIndex);
    if (
      kind === 'pod' &&
      observed.vmi !== undefined &&
      this.objects.vm.has(`vm/${observed.namespace}/${observed.vmi}`)
    ) {
      return; // a VM's launcher pod: its MACs are the VM's
    }
    const managed = this.scope.isManaged(kind === 'pod' ? 'pods' : 'virtualmachines', observed.namespace);
    if (!managed && this.pools.pool.entriesOf(owner).length === 0) return;
    this.reconciler.observe(owner, observed.macs, observed.persistedAt);
  }

  /**
   * A full list (start, or after the watch could not resume): every listed object is applied, and committed entries
   * of objects no longer listed are released (their deletion happened while we were not watching).
   */
  private resync(kind: Kind, items: ObservedObject[]): void {
    const present = new Map<string, Observed>();
    for (const item of items) {
      const owner = ownerOf(kind, item);
      if (owner !== undefined) present.set(owner, item.observed);
    }
    this.objects[kind] = present;
    for (const [owner, observed] of present) this.apply(kind, owner, observed);
    for (const owner of [...this.pools.pool.owners()]) {
      if (!owner.startsWith(`${kind}/`) || isProvisionalOwner(owner) || present.has(owner)) continue;
      for (const entry of [...this.pools.pool.entriesOf(owner)]) {
        if (entry.state === 'committed') this.pools.pool.releaseEntry(entry);
      }
    }
  }

  /** Selectors or namespace labels changed: apply every known object again (from memory, no API call). */
  private scheduleResync(): void {
    if (this.resyncTimer !== undefined) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      for (const kind of ['vm', 'pod'] as const) {
        for (const [owner, observed] of this.objects[kind]) this.apply(kind, owner, observed);
      }
    }, 100);
  }
}
