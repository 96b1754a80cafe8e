import { type PodRepository } from '../kube/pod.repository';
import { type KubeObject, type ListResult } from '../kube/resource-watch';
import { type ReducedWatchOptions } from '../kube/reduced-watch';
import { type VirtualMachineInstanceRepository } from '../kube/virtual-machine-instance.repository';
import { type ManagedKind, type NamespaceScopeService } from '../namespaces/namespace-scope.service';
import { type LeaderElectionService } from '../leader/leader-election.service';
import { type PoolService } from '../pool/pool.service';
import { type CollisionChange } from './collision-map';
import { type CollisionReporter, type EventTarget } from './collision-reporter.service';
import { CollisionsService } from './collisions.service';
import { type RunningObject } from './running-object';

const MAC = '02:00:00:00:00:01';
const VALUE = 0x020000000001;

/** A collection the service watches: the test hands it lists and events. */
class FakeCollection {
  options!: ReducedWatchOptions<RunningObject>;
  private resolveStarted!: () => void;
  private started = new Promise<void>((resolve) => (this.resolveStarted = resolve));

  watch = (options: ReducedWatchOptions<KubeObject>) => {
    this.options = options as unknown as ReducedWatchOptions<RunningObject>;
    return { start: () => this.started, stop: () => undefined };
  };

  /** A full list, raw objects reduced as the repositories do. */
  async list(items: KubeObject[], absent = false): Promise<void> {
    const run = () =>
      Promise.resolve<ListResult<RunningObject>>({
        items: items.map((item) => this.options.reduce(item) as RunningObject),
        resourceVersion: '1',
        absent,
      });
    const result = await (this.options.aroundList?.(run) ?? run());
    if (!result.absent) await this.options.onSync(result.items);
    this.resolveStarted();
  }

  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', item: KubeObject): void {
    void this.options.onEvent(type, this.options.reduce(item) as RunningObject);
  }
}

const pod = (namespace: string, name: string, mac = MAC) => ({
  metadata: {
    name,
    namespace,
    uid: `uid-${name}`,
    annotations: {
      'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'n', mac }]),
      'k8s.v1.cni.cncf.io/network-status': '[]',
    },
  },
});

const vmi = (namespace: string, name: string, mac = MAC) => ({
  metadata: { name, namespace, uid: `uid-${name}` },
  status: { phase: 'Running', interfaces: [{ name: 'default', mac }] },
});

async function setup(leadership?: { isLeader: boolean }) {
  const pods = new FakeCollection();
  const vmis = new FakeCollection();
  const managed: Record<ManagedKind, Set<string>> = {
    pods: new Set(['a', 'b']),
    virtualmachines: new Set(['a']),
  };
  const listeners: (() => void)[] = [];
  const scope = {
    synced: Promise.resolve(),
    onChange: (listener: () => void) => listeners.push(listener),
    isManaged: (kind: ManagedKind, namespace: string) => managed[kind].has(namespace),
  } as unknown as NamespaceScopeService;
  const reports: { changes: CollisionChange[]; targets: (EventTarget | undefined)[][] }[] = [];
  const reporter = {
    report: (changes: CollisionChange[], target: (ref: string) => EventTarget | undefined) =>
      reports.push({ changes: [...changes], targets: changes.map((c) => c.refs.map(target)) }),
    clear: () => reports.push({ changes: [], targets: [] }),
    republish: (
      collisions: Iterable<[number, readonly string[]]>,
      target: (ref: string) => EventTarget | undefined,
    ) => {
      const changes = [...collisions].map(([mac, refs]) => ({ mac, refs: [...refs] }));
      republished.push(changes);
      expect(changes.flatMap((c) => c.refs.map(target)).every((t) => t !== undefined)).toBe(true);
    },
  } as unknown as CollisionReporter;
  const republished: CollisionChange[][] = [];
  const leadershipListeners: ((leading: boolean) => void)[] = [];
  const service = new CollisionsService(
    { whenReady: Promise.resolve() } as PoolService,
    scope,
    { watchRunning: pods.watch } as unknown as PodRepository,
    { watch: vmis.watch } as unknown as VirtualMachineInstanceRepository,
    reporter,
    leadership === undefined
      ? undefined
      : ({
          isLeader: leadership.isLeader,
          onLeadershipChange: (listener: (leading: boolean) => void) => leadershipListeners.push(listener),
        } as unknown as LeaderElectionService),
  );
  service.onApplicationBootstrap();
  await new Promise((resolve) => setImmediate(resolve)); // start() awaits the pool and the scope
  return {
    service,
    pods,
    vmis,
    managed,
    reports,
    republished,
    rescope: () => listeners.forEach((l) => l()),
    lead: (leading: boolean) => leadershipListeners.forEach((l) => l(leading)),
  };
}

describe('CollisionsService', () => {
  afterEach(() => jest.useRealTimers());

  it('on a follower tracks collisions without reporting them; leading, it exports them; stepping down, it clears', async () => {
    const { service, pods, vmis, reports, republished, lead } = await setup({ isLeader: false });
    await pods.list([pod('a', 'p1'), pod('b', 'p2')]);
    await vmis.list([]);
    await service.synced;
    expect(reports).toEqual([]);
    expect([...service.collisions()]).toEqual([[VALUE, ['pod/a/p1', 'pod/b/p2']]]);

    lead(true);
    expect(republished).toEqual([[{ mac: VALUE, refs: ['pod/a/p1', 'pod/b/p2'] }]]);
    await vmis.list([vmi('a', 'v1')]);
    expect(reports.map((r) => r.changes)).toEqual([
      [{ mac: VALUE, refs: ['pod/a/p1', 'pod/b/p2', 'vmi/a/v1'] }],
    ]);

    lead(false);
    expect(reports.at(-1)).toEqual({ changes: [], targets: [] }); // clear()
    await pods.list([pod('a', 'p1')]);
    expect(reports).toHaveLength(2);
  });

  it('reports nothing until both first lists were applied, then the collisions they hold, once', async () => {
    const { service, pods, vmis, reports } = await setup();
    await pods.list([pod('a', 'p1'), pod('b', 'p2')]);
    expect(reports).toEqual([]);
    await vmis.list([vmi('a', 'v1')]);
    await service.synced;
    expect(reports).toHaveLength(1);
    expect(reports[0].changes).toEqual([{ mac: VALUE, refs: ['pod/a/p1', 'pod/b/p2', 'vmi/a/v1'] }]);
    expect(reports[0].targets[0]).toEqual([
      { kind: 'Pod', apiVersion: 'v1', namespace: 'a', name: 'p1', uid: 'uid-p1' },
      { kind: 'Pod', apiVersion: 'v1', namespace: 'b', name: 'p2', uid: 'uid-p2' },
      {
        kind: 'VirtualMachineInstance',
        apiVersion: 'kubevirt.io/v1',
        namespace: 'a',
        name: 'v1',
        uid: 'uid-v1',
      },
    ]);
    expect([...service.collisions()]).toEqual([[VALUE, ['pod/a/p1', 'pod/b/p2', 'vmi/a/v1']]]);

    await pods.list([pod('a', 'p1'), pod('b', 'p2')]); // a relist of the same objects
    expect(reports).toHaveLength(1);
  });

  it('counts each kind in its own scope, and applies a scope change to the objects it already knows', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    const { service, pods, vmis, managed, reports, rescope } = await setup();
    await pods.list([pod('a', 'p1')]);
    await vmis.list([vmi('b', 'v1')]); // b is managed for pods, not for VMs
    await service.synced;
    expect(reports).toEqual([]);

    managed.virtualmachines.add('b');
    rescope();
    rescope();
    jest.advanceTimersByTime(100);
    expect(reports.map((r) => r.changes)).toEqual([[{ mac: VALUE, refs: ['pod/a/p1', 'vmi/b/v1'] }]]);

    managed.pods.delete('a');
    rescope();
    jest.advanceTimersByTime(100);
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: [] }]);
  });

  it('follows events: a MAC change, an object that stops counting, a deletion, a relist missing an object', async () => {
    const { service, pods, vmis, reports } = await setup();
    await pods.list([pod('a', 'p1')]);
    await vmis.list([]);
    await service.synced;
    pods.event('ADDED', pod('a', 'p2'));
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: ['pod/a/p1', 'pod/a/p2'] }]);
    pods.event('MODIFIED', pod('a', 'p2', '02:00:00:00:00:02'));
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: [] }]);

    vmis.event('ADDED', vmi('a', 'v1'));
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: ['pod/a/p1', 'vmi/a/v1'] }]);
    vmis.event('MODIFIED', Object.assign(vmi('a', 'v1'), { status: { phase: 'Succeeded' } }));
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: [] }]);

    pods.event('ADDED', pod('a', 'p3'));
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: ['pod/a/p1', 'pod/a/p3'] }]);
    pods.event('DELETED', pod('a', 'p3'));
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: [] }]);

    pods.event('ADDED', pod('a', 'p4'));
    const count = reports.length;
    await pods.list([pod('a', 'p4')]); // p1 went while the watch was down
    expect(reports.length).toBe(count + 1);
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: [] }]);
  });

  it('compares pods alone while the VMI collection is absent', async () => {
    const { service, pods, vmis, reports } = await setup();
    await vmis.list([], true);
    await pods.list([pod('a', 'p1'), pod('a', 'p2')]);
    await service.synced;
    expect(reports.map((r) => r.changes)).toEqual([[{ mac: VALUE, refs: ['pod/a/p1', 'pod/a/p2'] }]]);
  });

  it('drops every VMI when their collection goes away (KubeVirt uninstalled while the watch was down)', async () => {
    const { service, pods, vmis, reports } = await setup();
    await vmis.list([vmi('a', 'v1'), vmi('a', 'v2')]);
    await pods.list([]);
    await service.synced;
    expect(reports.map((r) => r.changes)).toEqual([[{ mac: VALUE, refs: ['vmi/a/v1', 'vmi/a/v2'] }]]);
    await vmis.list([], true);
    expect(reports.at(-1)!.changes).toEqual([{ mac: VALUE, refs: [] }]);
  });
});
