import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { NamespaceScopeService } from '../namespaces/namespace-scope.service';
import { isObject } from '../mutation/mutation';
import { ReadinessService } from '../health/readiness.service';
import { describeError, isNotFound, statusCode } from '../kube/kube-errors';
import { METADATA_ONLY, METADATA_ONLY_WATCH, listAll } from '../kube/kube-http';
import { type ListResult, ResourceWatch, type WatchEventType } from '../kube/resource-watch';
import { VIRTUAL_MACHINES_API } from '../kube/kube.constants';
import { persistedTimestamp, virtualMachineMacs } from '../kubevirt/virtual-machine-shape';
import { podMacs, vmiOwnerName } from '../pods/pod-macs';
import { type PoolEntry } from '../pool/owner-index';
import { PoolService } from '../pool/pool.service';
import { PoolReconciler, isProvisionalOwner } from './pool-reconciler';
import { type ObservedMac } from '../mutation/mutation';

/** KubeVirt's legacy finalizer, still on VMs from old Kubemacpool versions; removed so those VMs can be deleted. */
export const LEGACY_FINALIZER = 'k8s.v1.cni.cncf.io/kubeMacPool';
const SWEEP_INTERVAL_MS = 5_000;
/** Without KubeVirt, how often the VirtualMachine collection is looked for again. */
const KUBEVIRT_POLL_MS = 10_000;
/** A namespace whose sweep list failed is tried again after 5 s, doubling up to 5 minutes. */
const SWEEP_RETRY_MAX_MS = 300_000;

type Kind = 'pod' | 'vm';

/** The API path of a kind's objects, cluster-wide or in one namespace. */
function collectionPath(kind: Kind, namespace?: string): string {
  const base =
    kind === 'pod' ? '/api/v1' : `/apis/${VIRTUAL_MACHINES_API.group}/${VIRTUAL_MACHINES_API.version}`;
  const plural = kind === 'pod' ? 'pods' : VIRTUAL_MACHINES_API.plural;
  return namespace === undefined ? `${base}/${plural}` : `${base}/namespaces/${namespace}/${plural}`;
}

/** What the pool needs of one persisted object; kept instead of the object (100k pods must not mean 100k specs). */
interface Observed {
  namespace: string;
  macs: ObservedMac[];
  persistedAt: number;
  /** For pods: the VMI that launched it, if any. */
  vmi?: string;
}

interface KubeObject {
  metadata?: V1ObjectMeta;
}

/** The parts of a pod the life cycle reads: name, namespace, the networks annotation, a VMI owner. */
export function compactPod(pod: KubeObject): KubeObject {
  const metadata = pod.metadata ?? {};
  const networks = metadata.annotations?.['k8s.v1.cni.cncf.io/networks'];
  const vmi = metadata.ownerReferences?.find((o) => o.kind === 'VirtualMachineInstance');
  return {
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      resourceVersion: metadata.resourceVersion,
      ...(networks === undefined ? {} : { annotations: { 'k8s.v1.cni.cncf.io/networks': networks } }),
      ...(vmi === undefined ? {} : { ownerReferences: [vmi] }),
    },
  };
}

/** The parts of a VM the life cycle reads: identity, the transaction timestamp, interfaces and networks. */
export function compactVm(vm: KubeObject): KubeObject {
  const metadata = vm.metadata ?? {};
  const raw = vm as {
    spec?: { template?: { spec?: { domain?: { devices?: { interfaces?: unknown } }; networks?: unknown } } };
  };
  const templateSpec = raw.spec?.template?.spec;
  const timestamp = metadata.annotations?.['kubemacpool.io/transaction-timestamp'];
  return {
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      resourceVersion: metadata.resourceVersion,
      finalizers: metadata.finalizers,
      ...(timestamp === undefined
        ? {}
        : { annotations: { 'kubemacpool.io/transaction-timestamp': timestamp } }),
    },
    spec: {
      template: {
        spec: {
          domain: { devices: { interfaces: templateSpec?.domain?.devices?.interfaces } },
          networks: templateSpec?.networks,
        },
      },
    },
  } as KubeObject;
}

/**
 * Keeps the pool equal to what persisted objects hold (DESIGN.md §3): rebuilds it from a list of VMs and Pods
 * (metadata only) before the first allocation, commits admitted MACs when the watch shows them persisted, binds
 * generateName objects to their real names, releases what deleted or updated objects no longer hold, and checks
 * pending entries past their deadline against the API.
 */
@Injectable()
export class LifecycleController implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(LifecycleController.name);
  private readonly reconciler: PoolReconciler;
  private readonly objects: Record<Kind, Map<string, Observed>> = { pod: new Map(), vm: new Map() };
  private readonly watches: ResourceWatch<KubeObject>[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Full lists in flight (from list to onSync): the sweep waits, so a relist never undoes what it settled. */
  private listing = 0;
  /** Per `<kind>/<namespace>` whose sweep list failed: consecutive failures and when to try again. */
  private readonly sweepRetry = new Map<string, { failures: number; at: number }>();
  private kubevirtAbsent = false;
  /** Full lists applied so far: a sweep whose namespace list raced one of them leaves its group for next time. */
  private relists = 0;
  /** Owners deleted (watch) while the current sweep lists: their entries wait for the next sweep. */
  private deletedDuringSweep: Set<string> | undefined;
  /** VMs a legacy-finalizer removal is in flight for, and those it failed for (warned once). */
  private readonly finalizerRemovals = new Set<string>();
  private readonly finalizerFailures = new Set<string>();

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly pools: PoolService,
    private readonly scope: NamespaceScopeService,
    readiness: ReadinessService,
  ) {
    this.reconciler = new PoolReconciler(pools.pool);
    readiness.register('pool', () => (pools.ready ? undefined : 'rebuilding the pool from the cluster'));
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: unknown) => this.logger.error(`start failed: ${describeError(error)}`));
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.sweepTimer);
    clearTimeout(this.resyncTimer);
    for (const watch of this.watches) watch.stop();
  }

  private async start(): Promise<void> {
    const started = Date.now();
    await this.scope.synced;
    // Before the lists: a label or selector change while they run re-applies what was already listed.
    this.scope.onChange(() => this.scheduleResync());
    const vms = this.watch('vm', collectionPath('vm'));
    const pods = this.watch('pod', collectionPath('pod'), METADATA_ONLY, METADATA_ONLY_WATCH);
    // VMs first: a virt-launcher pod is skipped when its VM exists.
    await vms.start();
    await pods.start();
    if (this.stopped) return;
    this.pools.ready = true;
    const stats = this.pools.pool.stats();
    this.logger.log(
      `pool rebuilt in ${Date.now() - started} ms from ${this.objects.vm.size} VMs and ${this.objects.pod.size} pods:` +
        ` ${stats.used} MACs used in the range, ${stats.outOfRange} outside it, ${stats.shared} shared`,
    );
    this.scheduleSweep();
  }

  private watch(
    kind: Kind,
    path: string,
    listAccept?: string,
    watchAccept?: string,
  ): ResourceWatch<KubeObject> {
    const watch = new ResourceWatch<KubeObject>(this.kubeConfig, {
      path,
      accept: watchAccept,
      list: async () => {
        this.listing++;
        try {
          const result = await this.list(kind, path, listAccept);
          if (result.absent) this.listing--; // no onSync follows
          return result;
        } catch (error) {
          this.listing--;
          throw error;
        }
      },
      onSync: (items) => {
        try {
          this.resync(kind, items);
        } finally {
          this.listing--;
          this.relists++;
        }
      },
      onEvent: (type, object) => this.handle(kind, type, object),
      onError: (error) => this.logger.warn(`${kind} watch interrupted, resuming: ${describeError(error)}`),
      absentPollMs: KUBEVIRT_POLL_MS,
    });
    this.watches.push(watch);
    return watch;
  }

  /**
   * Lists one kind, reduced to what the life cycle reads. Without KubeVirt the VirtualMachine collection does not
   * exist: that is an empty list, not an error, so a Multus-only cluster gets a ready manager (the list is tried
   * again every KUBEVIRT_POLL_MS, and VMs are watched once the CRD is installed).
   */
  private async list(kind: Kind, path: string, accept?: string): Promise<ListResult<KubeObject>> {
    try {
      const result = await listAll<KubeObject>(
        this.kubeConfig,
        path,
        {},
        accept,
        kind === 'pod' ? compactPod : compactVm,
      );
      if (kind === 'vm' && this.kubevirtAbsent) {
        this.kubevirtAbsent = false;
        this.logger.log('KubeVirt VirtualMachines are served now: watching them');
      }
      return result;
    } catch (error) {
      if (kind !== 'vm' || !isNotFound(error)) throw error;
      if (!this.kubevirtAbsent)
        this.logger.log(`KubeVirt is not installed (${path} is not served): no VirtualMachines to track`);
      this.kubevirtAbsent = true;
      return { items: [], resourceVersion: '', absent: true };
    }
  }

  private ownerOf(kind: Kind, object: KubeObject): string | undefined {
    const { namespace, name } = object.metadata ?? {};
    return namespace && name ? `${kind}/${namespace}/${name}` : undefined;
  }

  private observed(kind: Kind, object: KubeObject): Observed {
    const metadata = object.metadata ?? {};
    if (kind === 'pod') {
      return {
        namespace: metadata.namespace ?? '',
        macs: podMacs(metadata.annotations),
        persistedAt: -Infinity, // see PoolReconciler.observe
        vmi: vmiOwnerName(object as Record<string, unknown>),
      };
    }
    const vm = object as Record<string, unknown>;
    return {
      namespace: metadata.namespace ?? '',
      macs: virtualMachineMacs(vm),
      persistedAt: persistedTimestamp(vm),
    };
  }

  private handle(kind: Kind, type: WatchEventType, object: KubeObject): void {
    const owner = this.ownerOf(kind, object);
    if (owner === undefined) return;
    if (type === 'DELETED') {
      this.deletedDuringSweep?.add(owner);
      this.finalizerFailures.delete(owner); // warned-once VMs are keyed vm/<ns>/<name>, as owners are
      this.objects[kind].delete(owner);
      const released = this.reconciler.deleted(owner);
      if (released > 0) this.logger.debug(`${owner} deleted: released ${released} MAC(s)`);
      return;
    }
    if (kind === 'vm') this.removeLegacyFinalizer(object);
    const observed = this.observed(kind, object);
    this.objects[kind].set(owner, observed);
    this.apply(kind, owner, observed);
  }

  /** Records an object's MACs when its namespace is managed, or when the pool already knows the object. */
  private apply(kind: Kind, owner: string, observed: Observed): void {
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
  private resync(kind: Kind, items: KubeObject[]): void {
    const present = new Map<string, Observed>();
    for (const item of items) {
      const owner = this.ownerOf(kind, item);
      if (owner !== undefined) present.set(owner, this.observed(kind, item));
      if (kind === 'vm') this.removeLegacyFinalizer(item);
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

  /** Sweeps one after another, never overlapping: the next starts SWEEP_INTERVAL_MS after the last ended. */
  private scheduleSweep(): void {
    this.sweepTimer = setTimeout(() => {
      void this.sweep().finally(() => {
        if (!this.stopped) this.scheduleSweep();
      });
    }, SWEEP_INTERVAL_MS);
  }

  /**
   * Pending entries past their deadline: the admission was not followed by a persisted object showing the MAC (a
   * later webhook or validation rejected it, or the watch has not caught up). Each namespace concerned is listed
   * once, fresh from the API; what a persisted object carries is committed to it, the rest released.
   */
  private async sweep(): Promise<void> {
    if (this.listing > 0) return;
    const now = Date.now();
    const groups = new Map<string, PoolEntry[]>();
    for (const entry of this.pools.pool.expiredPending(now)) {
      const group = entry.owner.slice(0, entry.owner.lastIndexOf('/')); // <kind>/<namespace>
      if ((this.sweepRetry.get(group)?.at ?? 0) > now) continue;
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
      const failures = (this.sweepRetry.get(group)?.failures ?? 0) + 1;
      const delay = Math.min(SWEEP_INTERVAL_MS * 2 ** (failures - 1), SWEEP_RETRY_MAX_MS);
      this.sweepRetry.set(group, { failures, at: Date.now() + delay });
      this.logger.warn(
        `cannot list ${group} to settle ${entries.length} expired pending MAC(s), retrying in ${delay / 1000} s: ` +
          describeError(error),
      );
      return;
    }
    this.sweepRetry.delete(group);
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
      this.logger.log(
        `${group}: ${released} expired pending MAC(s) released (no persisted object holds them), ` +
          `${committed} committed to the object holding them`,
      );
  }

  /** One namespace's objects of one kind, fresh from the API: owner → the MACs its persisted object carries. */
  private async listNamespace(kind: Kind, namespace: string): Promise<Map<string, ObservedMac[]>> {
    const { items, absent } = await this.list(
      kind,
      collectionPath(kind, namespace),
      kind === 'pod' ? METADATA_ONLY : undefined,
    );
    // Without the VM API we cannot tell what holds a VM's MAC: keep the entries until it is back.
    if (absent) throw new Error(`${collectionPath(kind, namespace)} is not served`);
    const listed = new Map<string, ObservedMac[]>();
    for (const item of items) {
      const owner = this.ownerOf(kind, item);
      if (owner !== undefined) listed.set(owner, this.observed(kind, item).macs);
    }
    return listed;
  }

  /** Old Kubemacpool versions put a finalizer on VMs; nothing removes it any more but us (SPEC.md §3.3). */
  private removeLegacyFinalizer(object: KubeObject): void {
    const metadata = object.metadata ?? {};
    const index = metadata.finalizers?.indexOf(LEGACY_FINALIZER) ?? -1;
    const vm = `vm/${metadata.namespace}/${metadata.name}`;
    // One removal at a time per VM: every event and relist shows the finalizer until the first removal lands.
    if (index < 0 || !isObject(object) || this.finalizerRemovals.has(vm)) return;
    this.finalizerRemovals.add(vm);
    const body = [
      { op: 'test', path: `/metadata/finalizers/${index}`, value: LEGACY_FINALIZER },
      { op: 'remove', path: `/metadata/finalizers/${index}` },
    ];
    void this.kubeConfig
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObject(
        { ...VIRTUAL_MACHINES_API, namespace: metadata.namespace!, name: metadata.name!, body },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      )
      .then(
        () => {
          this.finalizerFailures.delete(vm);
          this.logger.log(`removed the legacy finalizer ${LEGACY_FINALIZER} from ${vm}`);
        },
        (error: unknown) => {
          // A conflict means the VM changed: the next event shows whether the finalizer is still there.
          if (this.finalizerFailures.has(vm) || statusCode(error) === 422) return;
          this.finalizerFailures.add(vm);
          this.logger.warn(`cannot remove the legacy finalizer from ${vm}: ${describeError(error)}`);
        },
      )
      .finally(() => this.finalizerRemovals.delete(vm));
  }
}
