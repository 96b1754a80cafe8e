import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1ObjectMeta } from '@kubernetes/client-node';
import { listAll } from '../../src/modules/kube/kube-http';
import {
  type ListResult,
  ResourceWatch,
  type ResourceWatchOptions,
} from '../../src/modules/kube/resource-watch';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { FaultProxy } from '../support/fault-proxy';
import { performance } from 'node:perf_hooks';
import { waitUntil } from '../support/webhook';

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);

type KubeObject = { metadata?: V1ObjectMeta };

/** A ResourceWatch on one collection that records what it was told. */
class RecordingWatch {
  readonly events: string[] = [];
  readonly errors: string[] = [];
  /** When each list started and each error was reported, in order (monotonic clock, ms). */
  readonly timeline: { what: 'list' | 'error'; at: number }[] = [];
  lists = 0;
  private readonly watch: ResourceWatch<KubeObject>;

  constructor(
    kubeConfig: KubeConfig,
    path: string,
    options: Partial<ResourceWatchOptions<KubeObject>> & {
      adjustList?: (result: ListResult<KubeObject>, count: number) => ListResult<KubeObject>;
    } = {},
  ) {
    this.watch = new ResourceWatch<KubeObject>(kubeConfig, {
      path,
      list: async () => {
        this.timeline.push({ what: 'list', at: performance.now() });
        const result = await listAll<KubeObject>(kubeConfig, path);
        this.lists++;
        return options.adjustList?.(result, this.lists) ?? result;
      },
      onSync: () => undefined,
      onEvent: (type, object) => void this.events.push(`${type} ${object.metadata?.name}`),
      onError: (error) => {
        this.timeline.push({ what: 'error', at: performance.now() });
        this.errors.push(String(error));
      },
      backoffMs: 100,
      maxBackoffMs: 500,
      ...options,
    });
  }

  start = () => this.watch.start();
  stop = () => this.watch.stop();

  sees(event: string, timeoutMs = 20_000): Promise<true> {
    return waitUntil(
      `the watch to see ${event}`,
      async () => this.events.includes(event) || undefined,
      timeoutMs,
    );
  }
}

const configMaps = (namespace: string) => `/api/v1/namespaces/${namespace}/configmaps`;

async function createConfigMap(namespace: string, name: string): Promise<void> {
  await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data: { k: name } } });
}

/** A KubeConfig for a service account that may list ConfigMaps in `namespace` but not watch them. */
async function listOnlyKubeConfig(namespace: string): Promise<KubeConfig> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'lister' } } });
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: 'list-only' },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'list-only' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'list-only' },
      subjects: [{ kind: 'ServiceAccount', name: 'lister', namespace }],
    },
  });
  const { status } = await core.createNamespacedServiceAccountToken({
    namespace,
    name: 'lister',
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const cluster = kc.getCurrentCluster()!;
  const lister = new KubeConfig();
  lister.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'lister', token: status!.token }],
    contexts: [{ name: 'lister', cluster: cluster.name, user: 'lister' }],
    currentContext: 'lister',
  });
  return lister;
}

/** Compacts etcd to its current revision, as the API server does every five minutes. */
async function compactEtcd(): Promise<void> {
  const { etcdUrl } = controlPlaneInfo();
  const status = (await (
    await fetch(`${etcdUrl}/v3/maintenance/status`, { method: 'POST', body: '{}' })
  ).json()) as {
    header: { revision: string };
  };
  const response = await fetch(`${etcdUrl}/v3/kv/compaction`, {
    method: 'POST',
    body: JSON.stringify({ revision: status.header.revision, physical: true }),
  });
  expect(response.status).toBe(200);
}

describe('ResourceWatch against the real kube-apiserver', () => {
  let proxy: FaultProxy;
  let watch: RecordingWatch | undefined;

  beforeEach(async () => {
    proxy = await FaultProxy.start(kc.getCurrentCluster()!.server);
  });

  afterEach(async () => {
    watch?.stop();
    watch = undefined;
    await proxy.stop();
  });

  it('lists again when the API server answers 410 Gone, and goes on watching', async () => {
    const namespace = await createTestNamespace('watch-gone');
    // Events bypass the API server's watch cache, so a watch from a compacted revision reaches etcd and gets 410
    // Gone. The first list claims resourceVersion 1, which the compaction has just removed.
    await compactEtcd();
    watch = new RecordingWatch(kc, `/api/v1/namespaces/${namespace}/events`, {
      adjustList: (result, count) => (count === 1 ? { ...result, resourceVersion: '1' } : result),
    });
    await watch.start();
    await waitUntil('a second list', async () => watch!.lists >= 2 || undefined);
    await core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name: 'after-gone' },
        involvedObject: { kind: 'ConfigMap', namespace, name: 'anything' },
        reason: 'Test',
        message: 'written after the 410',
      },
    });
    await watch.sees('ADDED after-gone');
    expect(watch.errors).toEqual([]);
  });

  it('survives a reset connection and resumes from the last version without listing again', async () => {
    const namespace = await createTestNamespace('watch-reset');
    watch = new RecordingWatch(proxy.kubeConfig(kc), configMaps(namespace));
    await watch.start();
    await createConfigMap(namespace, 'before-reset');
    await watch.sees('ADDED before-reset');

    proxy.reset();
    await createConfigMap(namespace, 'after-reset');
    await watch.sees('ADDED after-reset');
    expect(watch.errors.length).toBeGreaterThan(0);
    expect(watch.lists).toBe(1);
    expect(watch.events.filter((e) => e === 'ADDED before-reset')).toHaveLength(1);
  });

  it('gives up on a connection that went silent and watches again', async () => {
    const namespace = await createTestNamespace('watch-stall');
    // The server ends each watch after 2 s; a stream still open 0.5 s later is dead.
    watch = new RecordingWatch(proxy.kubeConfig(kc), configMaps(namespace), {
      watchTimeoutSeconds: 2,
      stallGraceMs: 500,
    });
    await watch.start();
    await createConfigMap(namespace, 'before-freeze');
    await watch.sees('ADDED before-freeze');

    proxy.freeze();
    await createConfigMap(namespace, 'after-freeze');
    await watch.sees('ADDED after-freeze');
    expect(watch.errors.some((e) => e.includes('no end of stream'))).toBe(true);
  });

  it('backs off, doubling, when every watch fails right after a good list', async () => {
    const namespace = await createTestNamespace('watch-forbidden');
    watch = new RecordingWatch(await listOnlyKubeConfig(namespace), configMaps(namespace), {
      backoffMs: 100,
      maxBackoffMs: 10_000,
    });
    await watch.start();
    // Six lists take five back-offs: 100 + 200 + 400 + 800 + 1600 ms (a watch that stopped retrying times out here).
    const lists = 6;
    await waitUntil(
      `${lists} lists`,
      async () => watch!.timeline.filter((step) => step.what === 'list').length >= lists || undefined,
      60_000,
    );
    watch.stop();
    // Each list is followed by exactly one refused watch (403: list but no watch), then the back-off, then a list.
    const steps = watch.timeline.slice(0, 2 * lists - 1);
    expect(steps.map((step) => step.what)).toEqual(
      Array.from({ length: 2 * lists - 1 }, (_, i) => (i % 2 === 0 ? 'list' : 'error')),
    );
    expect(watch.errors.slice(0, lists - 1).every((e) => e.includes('HTTP 403'))).toBe(true);
    // How long the watch waited between each refusal and the next list. A slow machine only makes these longer, so
    // the assertion is a lower bound: each wait is at least the doubled back-off (less 5 ms, as a Node.js timer may
    // fire a millisecond early), which a reset or constant back-off (about 100 ms each time) cannot meet.
    const waited = Array.from({ length: lists - 1 }, (_, i) => steps[2 * i + 2].at - steps[2 * i + 1].at);
    const short = waited
      .map((ms, i) => ({ backOffMs: 100 * 2 ** i, waitedMs: Math.round(ms) }))
      .filter(({ backOffMs, waitedMs }) => waitedMs < backOffMs - 5);
    expect(short).toEqual([]);
  });
});
