import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ObjectMeta,
} from '@kubernetes/client-node';
import { NamespaceScope } from '../admission/namespace-scope.service';
import { isObject } from '../admission/mutation';
import { ReadinessService } from '../health/readiness.service';
import { describeError, isNotFound } from '../kube/kube-errors';
import { METADATA_ONLY, METADATA_ONLY_WATCH, listAll } from '../kube/kube-http';
import { ResourceWatch, type WatchEventType } from '../kube/resource-watch';
import { VIRTUAL_MACHINES_API } from '../kubevirt/kubevirt.constants';
import { persistedTimestamp, virtualMachineMacs } from '../kubevirt/virtual-machine-mutator';
import { podMacs } from '../pods/pod-macs';
import { vmiOwnerName } from '../pods/pod-mutator';
import { PoolService } from '../pool/pool.service';
import { type ObservedMac, PoolReconciler, isProvisionalOwner } from './pool-reconciler';

/** KubeVirt's legacy finalizer, still on VMs from old Kubemacpool versions; removed so those VMs can be deleted. */
export const LEGACY_FINALIZER = 'k8s.v1.cni.cncf.io/kubeMacPool';
const SWEEP_INTERVAL_MS = 5_000;

type Kind = 'pod' | 'vm';

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

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly pools: PoolService,
    private readonly scope: NamespaceScope,
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
    clearInterval(this.sweepTimer);
    clearTimeout(this.resyncTimer);
    for (const watch of this.watches) watch.stop();
  }

  private async start(): Promise<void> {
    const started = Date.now();
    await this.scope.synced;
    const vms = this.watch(
      'vm',
      `/apis/${VIRTUAL_MACHINES_API.group}/${VIRTUAL_MACHINES_API.version}/virtualmachines`,
    );
    const pods = this.watch('pod', '/api/v1/pods', METADATA_ONLY, METADATA_ONLY_WATCH);
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
    this.scope.onChange(() => this.scheduleResync());
    this.sweepTimer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
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
      list: () =>
        listAll<KubeObject>(this.kubeConfig, path, {}, listAccept, kind === 'pod' ? compactPod : compactVm),
      onSync: (items) => this.resync(kind, items),
      onEvent: (type, object) => this.handle(kind, type, object),
      onError: (error) => this.logger.warn(`${kind} watch interrupted, resuming: ${describeError(error)}`),
    });
    this.watches.push(watch);
    return watch;
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
        persistedAt: Infinity,
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
      this.objects[kind].delete(owner);
      const released = this.reconciler.forget(owner);
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

  /**
   * Pending entries past their deadline: the admission was not followed by a persisted object showing the MAC
   * (a later webhook or validation rejected it, or the watch missed it). Ask the API; release what nothing holds.
   */
  private async sweep(): Promise<void> {
    const expired = this.pools.pool.expiredPending(Date.now());
    const owners = new Set(expired.map((entry) => entry.owner));
    for (const owner of owners) {
      try {
        await this.settle(owner);
      } catch (error) {
        this.logger.warn(`cannot check ${owner} against the API, retrying later: ${describeError(error)}`);
      }
    }
  }

  private async settle(owner: string): Promise<void> {
    const pending = () => this.pools.pool.entriesOf(owner).filter((e) => e.state === 'pending');
    if (isProvisionalOwner(owner)) {
      // Never bound to a persisted object by its deadline: the object was not created.
      for (const entry of pending()) this.pools.pool.releaseEntry(entry);
      this.logger.log(`released the MACs of ${owner}: no object was created with them`);
      return;
    }
    const [kind, namespace, name] = owner.split('/') as [Kind, string, string];
    const object = await this.read(kind, namespace, name);
    if (object === undefined) {
      const released = this.reconciler.forget(owner);
      this.logger.log(`released ${released} MAC(s) of ${owner}: it does not exist`);
      return;
    }
    const observed = this.observed(kind, object);
    this.objects[kind].set(owner, observed);
    this.reconciler.observe(owner, observed.macs, Infinity);
  }

  private async read(kind: Kind, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      if (kind === 'pod')
        return await this.kubeConfig.makeApiClient(CoreV1Api).readNamespacedPod({ namespace, name });
      return (await this.kubeConfig
        .makeApiClient(CustomObjectsApi)
        .getNamespacedCustomObject({ ...VIRTUAL_MACHINES_API, namespace, name })) as KubeObject;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Old Kubemacpool versions put a finalizer on VMs; nothing removes it any more but us (SPEC.md §3.3). */
  private removeLegacyFinalizer(object: KubeObject): void {
    const metadata = object.metadata ?? {};
    const index = metadata.finalizers?.indexOf(LEGACY_FINALIZER) ?? -1;
    if (index < 0 || !isObject(object)) return;
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
        () =>
          this.logger.log(
            `removed the legacy finalizer ${LEGACY_FINALIZER} from vm/${metadata.namespace}/${metadata.name}`,
          ),
        (error: unknown) => this.logger.warn(`cannot remove the legacy finalizer: ${describeError(error)}`),
      );
  }
}
