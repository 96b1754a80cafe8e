import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { describeError } from '../kube/kube-errors';
import { PodRepository } from '../kube/pod.repository';
import {
  type CollectionWatch,
  type KubeObject,
  type ListResult,
  type WatchEventType,
} from '../kube/resource-watch';
import { VirtualMachineInstanceRepository } from '../kube/virtual-machine-instance.repository';
import { NamespaceScopeService } from '../namespaces/namespace-scope.service';
import { LeaderElectionService } from '../leader/leader-election.service';
import { PoolService } from '../pool/pool.service';
import { CollisionMap } from './collision-map';
import { CollisionReporter, type EventTarget } from './collision-reporter.service';
import { type CollisionKind, type RunningObject, reducePod, reduceVmi, refOf } from './running-object';

const REDUCE: Record<CollisionKind, (object: KubeObject) => RunningObject> = {
  pod: reducePod,
  vmi: reduceVmi,
};
const SCOPE_OF = { pod: 'pods', vmi: 'virtualmachines' } as const;
const EVENT_KIND: Record<CollisionKind, Pick<EventTarget, 'kind' | 'apiVersion'>> = {
  pod: { kind: 'Pod', apiVersion: 'v1' },
  vmi: { kind: 'VirtualMachineInstance', apiVersion: 'kubevirt.io/v1' },
};
/** Namespace labels and selectors often change in bursts (a list, a relabelling script): apply them once. */
const RESCOPE_DELAY_MS = 100;

/**
 * Detects MAC collisions among running objects, as upstream's collision controllers do: Running VMIs (MACs from
 * `status.interfaces`) and Running pods Multus has wired (MACs from the networks annotation), virt-launcher pods
 * aside, each kind counted only in the namespaces its webhook manages. It keeps every candidate reduced (so a
 * namespace coming into scope needs no API call) and feeds a CollisionMap, whose changes the CollisionReporter
 * turns into the gauge and Events.
 *
 * It starts once the pool was rebuilt, so readiness never waits for its lists, and reports nothing before both
 * first lists were applied: the first report is built from complete lists, not from a half-read cluster.
 */
@Injectable()
export class CollisionsService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(CollisionsService.name);
  private readonly map = new CollisionMap();
  /** Every object that would count in a managed namespace, by ref, whether its namespace is managed or not. */
  private readonly objects: Record<CollisionKind, Map<string, RunningObject>> = {
    pod: new Map(),
    vmi: new Map(),
  };
  private readonly watches: CollectionWatch[] = [];
  /** The invalid MACs last logged per object, so an object is logged again only when they change. */
  private readonly loggedInvalid = new Map<string, string>();
  private reporting = false;
  /** Whether this replica exports collisions and records their Events (it leads). */
  private publishing: boolean;
  private stopped = false;
  private kubevirtAbsent = false;
  private rescopeTimer: NodeJS.Timeout | undefined;
  private resolveSynced!: () => void;
  /** Resolves once the first lists of VMIs and pods were applied and reported. */
  readonly synced = new Promise<void>((resolve) => (this.resolveSynced = resolve));

  constructor(
    private readonly pools: PoolService,
    private readonly scope: NamespaceScopeService,
    private readonly pods: PodRepository,
    private readonly vmis: VirtualMachineInstanceRepository,
    private readonly reporter: CollisionReporter,
    @Optional() leadership?: LeaderElectionService,
  ) {
    // Every replica tracks collisions (a new leader knows them at once); only the leader exports and records them,
    // so the gauge and the Events are not multiplied by the number of replicas.
    this.publishing = leadership?.isLeader ?? true;
    leadership?.onLeadershipChange((leading) => this.setPublishing(leading));
  }

  private setPublishing(leading: boolean): void {
    if (leading === this.publishing) return;
    this.publishing = leading;
    if (!leading) {
      this.reporter.clear();
      return;
    }
    // The series move here; the Events are recorded once more, as the replica before may not have got to them.
    this.reporter.republish(this.map.entries(), (ref) => this.target(ref));
  }

  onApplicationBootstrap(): void {
    void this.start().catch((error: unknown) =>
      this.logger.error('collision detection failed to start', { error: describeError(error) }),
    );
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.rescopeTimer);
    for (const watch of this.watches) watch.stop();
    this.reporter.clear();
  }

  /** The colliding MACs and their objects, as last reported. */
  collisions(): IterableIterator<[number, readonly string[]]> {
    return this.map.entries();
  }

  private async start(): Promise<void> {
    await this.pools.whenReady;
    await this.scope.synced;
    if (this.stopped) return;
    const started = Date.now();
    this.scope.onChange(() => this.scheduleRescope());
    const watches = [this.watch('vmi'), this.watch('pod')];
    await Promise.all(watches.map((watch) => watch.start()));
    if (this.stopped) return;
    this.reporting = true;
    this.flush();
    this.resolveSynced();
    this.logger.log('collision detection synced', {
      durationMs: Date.now() - started,
      vmis: this.objects.vmi.size,
      pods: this.objects.pod.size,
      collisions: this.map.size,
    });
  }

  private watch(kind: CollisionKind): CollectionWatch {
    const handlers = {
      reduce: REDUCE[kind],
      onSync: (items: RunningObject[]) => this.resync(kind, items),
      onEvent: (type: WatchEventType, object: RunningObject) => this.handle(kind, type, object),
      onError: (error: unknown) =>
        this.logger.warn('watch interrupted, resuming', { kind, error: describeError(error) }),
    };
    const watch =
      kind === 'pod'
        ? this.pods.watchRunning(handlers)
        : this.vmis.watch({ ...handlers, aroundList: (list) => this.trackKubevirt(list) });
    this.watches.push(watch);
    return watch;
  }

  /** Logs KubeVirt coming and going: without it the VMI collection is absent, and only pods are compared. */
  private async trackKubevirt(
    list: () => Promise<ListResult<RunningObject>>,
  ): Promise<ListResult<RunningObject>> {
    const result = await list();
    const absent = result.absent === true;
    // The collection went away (KubeVirt uninstalled) while the watch was down: its VMIs are gone too, and a list
    // of an absent collection syncs nothing.
    if (absent && this.objects.vmi.size > 0) this.resync('vmi', []);
    if (absent !== this.kubevirtAbsent) {
      this.kubevirtAbsent = absent;
      if (absent) this.logger.log('KubeVirt is not installed: collision detection compares pods only');
      else this.logger.log('KubeVirt VirtualMachineInstances are served now: comparing them too');
    }
    return result;
  }

  private handle(kind: CollisionKind, type: WatchEventType, object: RunningObject): void {
    const ref = refOf(kind, object);
    if (ref === undefined) return;
    if (type === 'DELETED' || object.macs.length === 0) {
      this.loggedInvalid.delete(ref);
      this.objects[kind].delete(ref);
      this.map.update(ref, undefined);
    } else {
      this.warnInvalid(kind, ref, object);
      this.objects[kind].set(ref, object);
      this.map.update(ref, this.managed(kind, object) ? object : undefined);
    }
    this.flush();
  }

  /** A full list: every listed object applied, and objects no longer listed dropped (gone while not watched). */
  private resync(kind: CollisionKind, items: RunningObject[]): void {
    const present = new Map<string, RunningObject>();
    for (const item of items) {
      const ref = refOf(kind, item);
      if (ref === undefined || item.macs.length === 0) continue;
      this.warnInvalid(kind, ref, item);
      present.set(ref, item);
    }
    for (const ref of this.objects[kind].keys()) {
      if (present.has(ref)) continue;
      this.loggedInvalid.delete(ref);
      this.map.update(ref, undefined);
    }
    this.objects[kind] = present;
    this.apply(kind);
    this.flush();
  }

  /** Counts each known object of `kind` in the map when its namespace is managed, and drops it otherwise. */
  private apply(kind: CollisionKind): void {
    const managed = new Map<string, boolean>();
    for (const [ref, object] of this.objects[kind]) {
      const namespace = object.metadata.namespace!;
      let counted = managed.get(namespace);
      if (counted === undefined) {
        counted = this.scope.isManaged(SCOPE_OF[kind], namespace);
        managed.set(namespace, counted);
      }
      this.map.update(ref, counted ? object : undefined);
    }
  }

  private managed(kind: CollisionKind, object: RunningObject): boolean {
    return this.scope.isManaged(SCOPE_OF[kind], object.metadata.namespace!);
  }

  /** Selectors or namespace labels changed: every known object is counted or dropped again, from memory. */
  private scheduleRescope(): void {
    if (this.rescopeTimer !== undefined) return;
    this.rescopeTimer = setTimeout(() => {
      this.rescopeTimer = undefined;
      if (this.stopped) return;
      this.apply('vmi');
      this.apply('pod');
      this.flush();
    }, RESCOPE_DELAY_MS);
  }

  /** Reports what changed since the last flush, once the first lists are in. */
  private flush(): void {
    if (!this.reporting) return;
    const changes = this.map.changes();
    if (changes.length > 0 && this.publishing) this.reporter.report(changes, (ref) => this.target(ref));
  }

  private target(ref: string): EventTarget | undefined {
    const kind = ref.slice(0, ref.indexOf('/')) as CollisionKind;
    const object = this.objects[kind]?.get(ref);
    if (object === undefined) return undefined;
    const { namespace, name, uid } = object.metadata;
    return { ...EVENT_KIND[kind], namespace: namespace!, name: name!, ...(uid === undefined ? {} : { uid }) };
  }

  private warnInvalid(kind: CollisionKind, ref: string, object: RunningObject): void {
    if (object.invalidMacs === undefined) {
      this.loggedInvalid.delete(ref);
      return;
    }
    const invalid = object.invalidMacs.join(',');
    if (this.loggedInvalid.get(ref) === invalid) return;
    this.loggedInvalid.set(ref, invalid);
    const { namespace, name } = object.metadata;
    this.logger.warn('invalid MAC address skipped for collision detection', {
      kind,
      namespace,
      name,
      macs: object.invalidMacs,
    });
  }
}
