import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { request as httpRequest } from 'node:http';
import { Agent, request } from 'node:https';
import { type AddressInfo } from 'node:net';
import { startManager } from '../src/bootstrap';
import { PoolService } from '../src/modules/pool/pool.service';
import { benchCluster } from './bench-cluster';
import { type BenchSuite, median } from './harness';

/** Requests per measured case (sequential, one keep-alive connection): a p99 is the 5th slowest. */
const REQUESTS = 500;
/** Fresh tokens for the cold case: each is reviewed (TokenReview and SubjectAccessReview) on its first request. */
const COLD = 60;
/** Allocations in the pool, so /api/v1/pool and /metrics do their real work. */
const ALLOCATIONS = 20_000;

const round3 = (value: number) => Number(value.toFixed(3));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** One GET; resolves with the milliseconds until the whole body arrived. Throws on any status but 200. */
function timedGet(agent: Agent | undefined, url: URL, token?: string): Promise<number> {
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const get =
      url.protocol === 'https:'
        ? request(url, {
            agent,
            rejectUnauthorized: false,
            headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
          })
        : httpRequest(url);
    get.on('response', (response) => {
      response.resume();
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`${url.pathname}: HTTP ${response.statusCode}`));
        else resolve(Number(process.hrtime.bigint() - start) / 1e6);
      });
    });
    get.on('error', reject);
    get.end();
  });
}

async function latencies(count: number, one: (i: number) => Promise<number>): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(await one(i));
  return values.sort((a, b) => a - b);
}

/**
 * The guarded HTTPS server: `/metrics` and `GET /api/v1/pool` with a review cached, against the plain `/metrics`
 * of the same process (the baseline: no TLS, no review), and the extra latency of a request whose token and
 * permission are not cached yet (TokenReview + SubjectAccessReview against the real API server).
 */
export const guardedSuite: BenchSuite = {
  name: 'guarded',
  async run(report) {
    const { plane, core, kc } = await benchCluster();
    await core.createNamespace({ body: { metadata: { name: 'kmp-bench' } } });
    const manager = await startManager({
      RANGE_START: '02:cd:00:00:00:00',
      RANGE_END: '02:cd:00:ff:ff:ff',
      POD_NAMESPACE: 'kmp-bench',
      WEBHOOK_PORT: '0',
      METRICS_ADDR: '127.0.0.1:0',
      METRICS_SECURE_ADDR: '127.0.0.1:0',
      WEBHOOK_EXTRA_IP_ADDRESSES: '127.0.0.1',
      WEBHOOK_CONFIGURATION_NAME: 'kmp-bench',
      LOG_LEVEL: 'warn',
      // One manager: the pool is filled directly below, without the leader's claims.
      LEADER_ELECTION: 'false',
    });
    if (manager === undefined) throw new Error('manager refused its configuration');
    try {
      const pool = manager.app.get(PoolService).pool;
      for (let i = 0; i < ALLOCATIONS; i++) pool.allocate(`vm/tenant-${i % 50}/vm-${i}`, 'default');
      const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
      await rbac.createClusterRole({
        body: {
          metadata: { name: 'kmp-bench-reader' },
          rules: [
            { nonResourceURLs: ['/metrics'], verbs: ['get'] },
            { apiGroups: ['kubemacpool.io'], resources: ['pool'], verbs: ['get'] },
          ],
        },
      });
      await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccount({
        namespace: 'kmp-bench',
        body: { metadata: { name: 'reader' } },
      });
      await rbac.createClusterRoleBinding({
        body: {
          metadata: { name: 'kmp-bench-reader' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kmp-bench-reader' },
          subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: 'kmp-bench' }],
        },
      });
      const token = async () =>
        (
          await core.createNamespacedServiceAccountToken({
            namespace: 'kmp-bench',
            name: 'reader',
            body: { spec: { audiences: [], expirationSeconds: 3600 } },
          })
        ).status!.token;
      const plain = new URL(
        `http://127.0.0.1:${(manager.metricsApp!.getHttpServer().address() as AddressInfo).port}/metrics`,
      );
      const guardedPort = (manager.secureMetricsApp!.getHttpServer().address() as AddressInfo).port;
      const guarded = (path: string) => new URL(`https://127.0.0.1:${guardedPort}${path}`);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const warm = await token();
      // RBAC follows the binding within moments: wait until the token is let in, which also caches its review.
      for (let tries = 0; ; tries++) {
        try {
          await timedGet(agent, guarded('/api/v1/pool'), warm);
          await timedGet(agent, guarded('/metrics'), warm);
          break;
        } catch (error) {
          if (tries > 100) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      // Interleaved rounds, so that the machine's noise falls on every case alike.
      const rounds: Record<'plain' | 'metrics' | 'pool', number[][]> = { plain: [], metrics: [], pool: [] };
      for (let round = 0; round < 5; round++) {
        rounds.plain.push(await latencies(REQUESTS / 5, () => timedGet(undefined, plain)));
        rounds.metrics.push(await latencies(REQUESTS / 5, () => timedGet(agent, guarded('/metrics'), warm)));
        rounds.pool.push(await latencies(REQUESTS / 5, () => timedGet(agent, guarded('/api/v1/pool'), warm)));
      }
      const all = (name: keyof typeof rounds) => rounds[name].flat().sort((a, b) => a - b);
      const plainP50 = median(all('plain'));
      for (const name of ['plain', 'metrics', 'pool'] as const) {
        const sorted = all(name);
        const label =
          name === 'plain' ? 'metrics-plain' : name === 'metrics' ? 'metrics-cached' : 'pool-cached';
        report({ bench: `guarded/${label}-p50`, value: round3(median(sorted)), unit: 'ms' });
        report({ bench: `guarded/${label}-p99`, value: round3(percentile(sorted, 99)), unit: 'ms' });
        if (name !== 'plain') {
          report({
            bench: `guarded/${label}-vs-plain-p50`,
            value: round3(median(sorted) / plainP50),
            unit: 'x',
          });
        }
      }
      // Cold: a new token each time (its own TokenReview, and its own SubjectAccessReview: a bound token's
      // credential id is part of the user the decision is cached for), against cached requests in between.
      const tokens = [];
      for (let i = 0; i < COLD; i++) tokens.push(await token());
      const cold: number[] = [];
      const cached: number[] = [];
      for (const fresh of tokens) {
        cold.push(await timedGet(agent, guarded('/metrics'), fresh));
        cached.push(await timedGet(agent, guarded('/metrics'), fresh));
      }
      cold.sort((a, b) => a - b);
      cached.sort((a, b) => a - b);
      report({ bench: 'guarded/metrics-cold-review-p50', value: round3(median(cold)), unit: 'ms' });
      report({
        bench: 'guarded/cold-review-extra-p50',
        value: round3(median(cold) - median(cached)),
        unit: 'ms',
      });
      agent.destroy();
    } finally {
      await manager.close();
      await plane.stop();
    }
  },
};
