import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildWebhookConfiguration } from '../../src/common/webhook-configuration';
import { admissionReview, podWithNetworks } from '../fixtures/objects';
import { chartIdentity, chartRbacObjects, serviceAccountToken } from '../support/chart-identity';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { ManagerProcess, buildManager } from '../support/manager-process';
import { httpsGet, postReview } from '../support/https-get';
import { freeLoopbackPort } from '../support/ports';
import { waitUntil } from '../support/webhook';

const kc = adminKubeConfig();
const LEASE = 'kubemacpool-mac-controller-manager';

interface Answer {
  status: number;
  body: Record<string, unknown> & { message?: string };
}

/** GET `path` on the guarded server at `host`:`port`, with `token` as the bearer token when given. */
async function get(host: string, port: number, path: string, token?: string): Promise<Answer> {
  const { status, text } = await httpsGet(port, path, token, host);
  return { status, body: JSON.parse(text) as Answer['body'] };
}

const ROUTES = [
  '/api/v1/pool',
  '/api/v1/macs/02:e9:00:00:00:00',
  '/api/v1/allocations',
  '/api/v1/collisions',
];

/**
 * The admin API of two manager processes, a leader and a follower, each on its own loopback address and the same
 * port (as two Pods of the Deployment), under the chart's identity, with ServiceAccount tokens from the TokenRequest
 * API bound or not to the chart's ClusterRole kubemacpool-admin-reader.
 */
describe('the admin API (/api/v1) on the guarded HTTPS server', () => {
  const scope = randomBytes(4).toString('hex');
  const configurationName = `kmp-admin-${scope}`;
  const role = `kmp-admin-reader-${scope}`;
  let namespace: string;
  let workloads: string;
  let identity: Awaited<ReturnType<typeof chartIdentity>>;
  let securePort: number;
  const managers: { process: ManagerProcess; host: string }[] = [];
  const tokens: Record<'operator' | 'stranger', string> = { operator: '', stranger: '' };
  let leader: { process: ManagerProcess; host: string };
  let follower: { process: ManagerProcess; host: string };

  beforeAll(async () => {
    buildManager();
    namespace = await createTestNamespace('kmp-admin');
    workloads = await createTestNamespace('kmp-admin-pods', {
      'kubemacpool.io/test-scope': scope,
      'mutatepods.kubemacpool.io': 'allocate',
    });
    identity = await chartIdentity(namespace, configurationName);
    // The chart's kubemacpool-admin-reader, by a name of this test's, bound to `operator` only.
    const reader = chartRbacObjects(namespace).find((o) => o.metadata?.name === 'kubemacpool-admin-reader')!;
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({ body: { metadata: { name: role }, rules: reader.rules! } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name: 'operator', namespace }],
      },
    });
    for (const name of ['operator', 'stranger'] as const) {
      await kc
        .makeApiClient(CoreV1Api)
        .createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
      tokens[name] = await serviceAccountToken(namespace, name);
    }
    securePort = await freeLoopbackPort();
    for (const [name, host] of [
      ['a', '127.0.0.2'],
      ['b', '127.0.0.3'],
    ]) {
      const process = await ManagerProcess.create(
        {
          KUBECONFIG: identity.kubeconfigPath,
          POD_NAMESPACE: namespace,
          WEBHOOK_CONFIGURATION_NAME: configurationName,
          RANGE_START: '02:e9:00:00:00:00',
          RANGE_END: '02:e9:00:00:ff:ff',
          CA_PROPAGATION_DELAY: '1s',
          LOG_LEVEL: 'log',
          LEADER_ELECTION_IDENTITY: `manager-${name}-${scope}`,
          POD_IP: host,
          METRICS_SECURE_ADDR: `${host}:${securePort}`,
        },
        join(controlPlaneInfo().directory, `manager-admin-${name}-${scope}.log`),
      );
      managers.push({ process, host });
    }
    // The configuration the managers read their opt modes from (and inject the caBundle into); the reviews below are
    // posted straight to the leader.
    await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
      body: buildWebhookConfiguration({
        name: configurationName,
        podsMode: 'opt-in',
        virtualMachinesMode: 'opt-in',
        clientConfig: { url: `https://127.0.0.1:${managers[0].process.port}` },
        extraNamespaceSelectorExpressions: [
          { key: 'kubemacpool.io/test-scope', operator: 'In', values: [scope] },
        ],
      }),
    });
    for (const manager of managers) await manager.process.start(40_000);
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const holder = await waitUntil('a leader that published its address', async () => {
      const lease = await coordination.readNamespacedLease({ namespace, name: LEASE }).catch(() => undefined);
      return lease?.metadata?.annotations?.['kubemacpool.io/leader-url'] === undefined
        ? undefined
        : lease.spec?.holderIdentity;
    });
    leader = managers.find((m) => m.process.env.LEADER_ELECTION_IDENTITY === holder)!;
    follower = managers.find((m) => m !== leader)!;
    // Three pods admitted by the leader (pending: they are never created), so only the leader's pool has them.
    for (const name of ['pod-a', 'pod-b', 'pod-c']) {
      const answer = await postReview(
        leader.process.port,
        admissionReview({ kind: 'Pod', namespace: workloads, object: podWithNetworks(name, 'net1,net2') }),
      );
      expect(answer.allowed).toBe(true);
    }
  }, 120_000);

  afterAll(async () => {
    for (const manager of managers) await manager.process.stop();
    await kc
      .makeApiClient(AdmissionregistrationV1Api)
      .deleteMutatingWebhookConfiguration({ name: configurationName })
      .catch(() => undefined);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.deleteClusterRoleBinding({ name: role }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: role }).catch(() => undefined);
    await identity?.release();
  });

  const leaderGet = (path: string, token = tokens.operator) => get(leader.host, securePort, path, token);

  it('answers every route to a token of kubemacpool-admin-reader, refuses others (403) and no token (401), on both replicas', async () => {
    for (const manager of [leader, follower]) {
      for (const path of ROUTES) {
        const allowed = await get(manager.host, securePort, path, tokens.operator);
        // A free MAC is 404: the owner lookup ran, for an allowed caller only.
        expect([path, allowed.status]).toEqual([path, path.includes('/macs/') ? 404 : 200]);
        const refused = await get(manager.host, securePort, path, tokens.stranger);
        expect([path, refused.status]).toEqual([path, 403]);
        expect(refused.body.message).toMatch(
          new RegExp(
            `^system:serviceaccount:${namespace}:stranger may not (get|list) [a-z]+\\.kubemacpool\\.io`,
          ),
        );
        expect([path, (await get(manager.host, securePort, path)).status]).toEqual([path, 401]);
      }
    }
  });

  it('reports the pool as the leader holds it, also through the follower', async () => {
    const pool = await leaderGet('/api/v1/pool');
    expect(pool).toEqual({
      status: 200,
      body: {
        rangeStart: '02:e9:00:00:00:00',
        rangeEnd: '02:e9:00:00:ff:ff',
        size: 65536,
        used: 6,
        pending: 6,
        free: 65530,
        utilisation: 6 / 65536,
        shared: 0,
        outOfRange: 0,
        byKind: { pod: 6, vm: 0 },
      },
    });
    // The follower's own pool has none of the leader's pending admissions: this is the leader's answer, relayed.
    expect(await get(follower.host, securePort, '/api/v1/pool', tokens.operator)).toEqual(pool);
  });

  it('names the owners of a MAC in any notation; 404 for a free one, 400 naming a malformed one', async () => {
    const page = await leaderGet('/api/v1/allocations?limit=1');
    const [first] = page.body.items as { mac: string }[];
    const owners = await leaderGet(`/api/v1/macs/${first.mac.replaceAll(':', '-').toUpperCase()}`);
    expect(owners).toEqual({
      status: 200,
      body: {
        mac: first.mac,
        inRange: true,
        owners: [
          {
            mac: first.mac,
            kind: 'pod',
            namespace: workloads,
            name: 'pod-a',
            interface: expect.stringMatching(/net1/),
            state: 'pending',
            since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          },
        ],
      },
    });
    expect(await leaderGet('/api/v1/macs/02:e9:00:00:ff:ff')).toMatchObject({
      status: 404,
      body: { message: 'MAC 02:e9:00:00:ff:ff is not allocated' },
    });
    expect(await leaderGet('/api/v1/macs/zz')).toMatchObject({
      status: 400,
      body: { message: 'mac=zz: address zz: invalid MAC address' },
    });
  });

  it('pages the allocations in a stable order, filters by kind and namespace, and names bad parameters', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const answer = await leaderGet(
        `/api/v1/allocations?kind=pod&namespace=${workloads}&limit=4${token === undefined ? '' : `&continue=${token}`}`,
      );
      expect(answer.status).toBe(200);
      const items = answer.body.items as { name: string; interface: string; mac: string }[];
      seen.push(...items.map((item) => `${item.name} ${item.interface} ${item.mac}`));
      token = answer.body.continue as string | undefined;
      pages++;
    } while (token !== undefined);
    expect(pages).toBe(2);
    expect(seen).toHaveLength(6);
    expect(new Set(seen.map((line) => line.split(' ')[2])).size).toBe(6);
    expect(seen.map((line) => line.split(' ')[0])).toEqual([
      'pod-a',
      'pod-a',
      'pod-b',
      'pod-b',
      'pod-c',
      'pod-c',
    ]);
    expect((await leaderGet('/api/v1/allocations?kind=vm')).body).toEqual({ items: [] });
    expect((await leaderGet('/api/v1/allocations?namespace=elsewhere')).body).toEqual({ items: [] });
    for (const [query, message] of [
      ['limit=0', 'limit=0: must be an integer from 1 to 1000'],
      ['limit=abc', 'limit=abc: must be an integer from 1 to 1000'],
      ['kind=vmi', 'kind=vmi: must be one of pod, vm'],
      ['namespace=Bad_Name', 'namespace=Bad_Name: must be a namespace name (a DNS-1123 label)'],
      ['continue=bm90LWEtdG9rZW4', 'continue=bm90LWEtdG9rZW4: must be the continue token of a previous page'],
      ['limits=5', 'limits: unknown parameter'],
    ]) {
      expect(await leaderGet(`/api/v1/allocations?${query}`)).toMatchObject({
        status: 400,
        body: { message },
      });
    }
  });

  it('serves its OpenAPI document to any authenticated user, as the API server serves discovery', async () => {
    const document = await get(follower.host, securePort, '/api/openapi.json', tokens.stranger);
    expect(document.status).toBe(200);
    expect(Object.keys(document.body.paths as object)).toEqual(
      expect.arrayContaining([
        '/api/v1/pool',
        '/api/v1/macs/{mac}',
        '/api/v1/allocations',
        '/api/v1/collisions',
      ]),
    );
    expect((await get(follower.host, securePort, '/api/openapi.json')).status).toBe(401);
  });

  it('lists no collisions while no running objects share a MAC', async () => {
    expect((await leaderGet('/api/v1/collisions')).body).toEqual({ items: [] });
  });
});
