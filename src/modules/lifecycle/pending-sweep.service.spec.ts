import { type PodRepository } from '../kube/pod.repository';
import { type KubeObject, type ListResult } from '../kube/resource-watch';
import { type VirtualMachineRepository } from '../kube/virtual-machine.repository';
import { MacPool } from '../pool/mac-pool';
import { MacRange } from '../pool/mac-range';
import { type PoolService } from '../pool/pool.service';
import { PendingSweepService } from './pending-sweep.service';

/** A fake repository: `objects` per namespace, or a failure; `during` runs while a list is in flight. */
class FakeRepository {
  readonly calls: string[] = [];
  failing = new Set<string>();
  during: (() => void) | undefined;
  constructor(readonly objects: Record<string, KubeObject[]> = {}) {}

  async list<T extends KubeObject>(
    namespace: string | undefined,
    reduce: (o: KubeObject) => T,
  ): Promise<ListResult<T>> {
    this.calls.push(namespace ?? '');
    this.during?.();
    if (this.failing.has(namespace ?? '')) throw new Error('HTTP 500: unavailable');
    return { items: (this.objects[namespace ?? ''] ?? []).map(reduce), resourceVersion: '1' };
  }
}

const pod = (namespace: string, name: string, mac: string): KubeObject => ({
  metadata: {
    namespace,
    name,
    annotations: { 'k8s.v1.cni.cncf.io/networks': JSON.stringify([{ name: 'net1', mac }]) },
  },
});

describe('PendingSweepService', () => {
  let pool: MacPool;
  let pods: FakeRepository;
  let sweeper: PendingSweepService;
  const now = () => Date.now();
  const expired = (owner: string) => pool.allocateEntry(owner, 'net1#0', { deadline: 0 });

  beforeEach(() => {
    pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:ff'), () => 0);
    pods = new FakeRepository();
    sweeper = new PendingSweepService(
      { pool, ready: true } as PoolService,
      pods as unknown as PodRepository,
      new FakeRepository() as unknown as VirtualMachineRepository,
    );
  });
  afterEach(() => sweeper.onModuleDestroy());

  it('commits what a listed object carries and releases the rest, one list per namespace', async () => {
    const held = expired('pod/a/held');
    expired('pod/a/rejected');
    pods.objects.a = [pod('a', 'held', pool.macOf(held).toString())];
    await sweeper.sweep(now());
    expect(pods.calls).toEqual(['a']);
    expect(pool.entriesOf('pod/a/held').map((e) => e.state)).toEqual(['committed']);
    expect(pool.entriesOf('pod/a/rejected')).toEqual([]);
  });

  it('backs off a namespace whose list fails, and still sweeps the others', async () => {
    expired('pod/broken/x');
    expired('pod/fine/y');
    pods.failing.add('broken');
    await sweeper.sweep(now());
    expect(pods.calls).toEqual(['broken', 'fine']);
    expect(pool.entriesOf('pod/broken/x')).toHaveLength(1);
    await sweeper.sweep(now()); // within the back-off
    expect(pods.calls).toEqual(['broken', 'fine']);
    pods.failing.clear();
    await sweeper.sweep(now() + 5_000); // past it
    expect(pods.calls).toEqual(['broken', 'fine', 'broken']);
    expect(pool.entriesOf('pod/broken/x')).toEqual([]);
  });

  it('settles nothing while a full list is in flight, or when one was applied during its own list', async () => {
    expired('pod/a/x');
    sweeper.listStarted();
    await sweeper.sweep(now());
    expect(pods.calls).toEqual([]);
    sweeper.listEnded(true);
    pods.during = () => {
      sweeper.listStarted();
      sweeper.listEnded(true);
    };
    await sweeper.sweep(now());
    expect(pods.calls).toEqual(['a']);
    expect(pool.entriesOf('pod/a/x')).toHaveLength(1);
  });

  it('leaves the entries of an object deleted during its list to the next sweep', async () => {
    expired('pod/a/gone');
    pods.during = () => sweeper.deleted('pod/a/gone');
    await sweeper.sweep(now());
    expect(pool.entriesOf('pod/a/gone')).toHaveLength(1);
  });
});
