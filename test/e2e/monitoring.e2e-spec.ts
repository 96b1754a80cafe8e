import { writeFileSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { virtualMachine } from '../fixtures/objects';
import { serviceAccountToken } from '../support/chart-identity';
import { controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { httpsGet } from '../support/https-get';
import { metricsReaders, waitForMetricsAccess } from '../support/metrics-readers';
import { chartServiceMonitorEndpoint, dashboardQueries } from '../support/monitoring-manifests';
import { KUBEMACPOOL_JOB, MonitoringStack } from '../support/prometheus';
import { VM_API, WebhookEnvironment, apiErrorMessage, waitUntil } from '../support/webhook';
import { PoolService } from '../../src/modules/pool/pool.service';

/** 20 MACs: 19 in use is 95 %, over KubemacpoolPoolAlmostFull's 90 % and short of KubemacpoolPoolExhausted. */
const RANGE = { RANGE_START: '02:bc:00:00:00:00', RANGE_END: '02:bc:00:00:00:13' };
const RANGE_SIZE = 20;
const VMI_API = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' } as const;

describe('monitoring with a real Prometheus and Alertmanager', () => {
  const env = new WebhookEnvironment();
  let stack: MonitoringStack;

  let releaseReader: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    // Prometheus's ServiceAccount, allowed to get /metrics as ClusterRole kubemacpool-metrics-reader allows it.
    const monitoring = await createTestNamespace('kmp-monitoring');
    releaseReader = await metricsReaders(monitoring, `kmp-monitoring-${env.scope}`, {
      readers: ['prometheus-k8s'],
      others: [],
    });
    // The guarded endpoint only (the chart's default), under the chart's identity.
    await env.start({ ...RANGE, LOG_LEVEL: 'warn', METRICS_ADDR: '', METRICS_SECURE_ADDR: '127.0.0.1:0' });
    const guarded = env.manager.secureMetricsApp!.getHttpServer().address() as AddressInfo;
    // The chart's ServiceMonitor, verifying the manager's certificate with the webhook CA (the documented
    // metrics.serviceMonitor.tlsConfig), and what the cluster gives Prometheus: its token and the Secret's CA.
    const caSecret = `${env.configurationName}-ca`;
    const endpoint = chartServiceMonitorEndpoint(env.managerNamespace, {
      ca: { secret: { name: caSecret, key: 'ca.crt' } },
      serverName: `kubemacpool-service.${env.managerNamespace}.svc`,
    });
    const secret = await env.core.readNamespacedSecret({ namespace: env.managerNamespace, name: caSecret });
    const tokenFile = join(controlPlaneInfo().directory, `prometheus-token-${env.scope}`);
    writeFileSync(tokenFile, await serviceAccountToken(monitoring, 'prometheus-k8s'), { mode: 0o600 });
    await waitForMetricsAccess(`system:serviceaccount:${monitoring}:prometheus-k8s`);
    stack = await MonitoringStack.start([`127.0.0.1:${guarded.port}`], {
      endpoint,
      tokenFile,
      caPem: Buffer.from(secret.data!['ca.crt'], 'base64').toString(),
    });
    await stack.waitForTargetsUp();
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    await env.stop();
    await releaseReader?.();
  });

  it('scrapes the guarded endpoint over verified HTTPS with a ServiceAccount token, which the manager reviewed', async () => {
    const [up] = await stack.query(`up{job="${KUBEMACPOOL_JOB}"}`);
    expect(up.value[1]).toBe('1');
    expect(await stack.targetErrors()).toEqual([]);
    // The same scrape without the token is refused: it is the token that let Prometheus in.
    const guarded = env.manager.secureMetricsApp!.getHttpServer().address() as AddressInfo;
    const anonymous = (await httpsGet(guarded.port, '/metrics')).status;
    expect(anonymous).toBe(401);
  });

  const used = () => env.manager.app.get(PoolService).pool.stats().used;
  const createVm = (namespace: string, name: string, macAddress?: string) =>
    env.custom.createNamespacedCustomObject({
      ...VM_API,
      namespace,
      body: virtualMachine(
        name,
        [{ name: 'default', binding: 'masquerade', macAddress }],
        [{ name: 'default' }],
      ),
    });
  const deleteVm = (namespace: string, name: string) =>
    env.custom.deleteNamespacedCustomObject({ ...VM_API, namespace, name });

  /** A VirtualMachineInstance made Running with `mac` on its interface through the status subresource, as KubeVirt does. */
  async function startRunningVmi(namespace: string, name: string, mac: string): Promise<void> {
    const created = (await env.custom.createNamespacedCustomObject({
      ...VMI_API,
      namespace,
      body: {
        apiVersion: 'kubevirt.io/v1',
        kind: 'VirtualMachineInstance',
        metadata: { name },
        spec: { domain: { devices: { interfaces: [{ name: 'default', masquerade: {}, macAddress: mac }] } } },
      },
    })) as Record<string, unknown>;
    await env.custom.replaceNamespacedCustomObjectStatus({
      ...VMI_API,
      namespace,
      name,
      body: { ...created, status: { phase: 'Running', interfaces: [{ name: 'default', mac }] } },
    });
  }
  const deleteVmi = (namespace: string, name: string) =>
    env.custom.deleteNamespacedCustomObject({ ...VMI_API, namespace, name });

  it('answers every Grafana dashboard query with at least one series', async () => {
    const namespace = await env.namespace('mon-dashboard');
    // An admission that takes a MAC (pool in use, webhook series), one refused (an allocation failure), and two
    // running VMIs on one MAC (a collision).
    await createVm(namespace, 'allocated');
    const refused = await createVm(namespace, 'malformed', '02:bc:00:00:ff').catch(apiErrorMessage);
    expect(refused).toContain('invalid MAC address');
    await startRunningVmi(namespace, 'vmi-a', '02:bc:00:00:00:ff');
    await startRunningVmi(namespace, 'vmi-b', '02:bc:00:00:00:ff');
    try {
      const queries = dashboardQueries({ job: KUBEMACPOOL_JOB, __rate_interval: '1m' });
      expect(queries.length).toBeGreaterThan(10);
      /** Panels whose query returned no series (or an error) in the last round. */
      let empty: string[] = [];
      await waitUntil(
        'every dashboard query to return a series',
        async () => {
          empty = [];
          for (const { panel, expr } of queries) {
            const series = await stack.query(expr).catch((error: Error) => error.message);
            if (typeof series === 'string') empty.push(`${panel}: ${expr}: ${series}`);
            else if (series.length === 0) empty.push(`${panel}: ${expr}`);
          }
          return empty.length === 0 ? true : undefined;
        },
        30_000,
      ).catch(() => undefined);
      expect(empty).toEqual([]);
    } finally {
      await Promise.all([
        deleteVmi(namespace, 'vmi-a'),
        deleteVmi(namespace, 'vmi-b'),
        deleteVm(namespace, 'allocated'),
      ]);
    }
  }, 90_000);

  it('delivers KubemacpoolPoolAlmostFull once the pool is over 90 % used, and its resolution after release', async () => {
    const since = new Date();
    const namespace = await env.namespace('mon-pool');
    await waitUntil('the MACs of earlier tests to be released', async () =>
      used() === 0 ? true : undefined,
    );
    const names = Array.from({ length: RANGE_SIZE - 1 }, (_, i) => `vm-${i}`);
    for (const name of names) await createVm(namespace, name);
    expect(used()).toBe(RANGE_SIZE - 1);

    const firing = await stack.waitForAlert('KubemacpoolPoolAlmostFull', 'firing', { since });
    expect(firing.labels).toEqual({
      alertname: 'KubemacpoolPoolAlmostFull',
      job: KUBEMACPOOL_JOB,
      severity: 'warning',
    });
    expect(firing.annotations.description).toMatch(/^95% of the MAC addresses in the range are in use\./);
    expect(firing.annotations.runbook_url).toContain('KubemacpoolPoolAlmostFull');

    await Promise.all(names.map((name) => deleteVm(namespace, name)));
    await stack.waitForAlert('KubemacpoolPoolAlmostFull', 'resolved', { after: firing, timeoutMs: 60_000 });
  }, 240_000);

  it('delivers KubemacpoolMACCollisionDetected when two running VMIs share a MAC, and its resolution after one is deleted', async () => {
    const since = new Date();
    const namespace = await env.namespace('mon-collision');
    await startRunningVmi(namespace, 'vmi-a', '02:bc:00:00:00:fe');
    await startRunningVmi(namespace, 'vmi-b', '02:bc:00:00:00:fe');
    try {
      const firing = await stack.waitForAlert('KubemacpoolMACCollisionDetected', 'firing', { since });
      // Upstream's alert as upstream writes it: severity warning, one colliding MAC in the description.
      expect(firing.labels.severity).toBe('warning');
      expect(firing.annotations.summary).toBe('MAC address collisions detected.');
      expect(firing.annotations.description).toBe(
        '1 MAC address(es) have collisions. Multiple running objects are using the same MAC address.',
      );
      expect(firing.annotations.runbook_url).toBe(
        'https://kubevirt.io/monitoring/runbooks/KubemacpoolMACCollisionDetected',
      );
      await deleteVmi(namespace, 'vmi-b');
      await stack.waitForAlert('KubemacpoolMACCollisionDetected', 'resolved', {
        after: firing,
        timeoutMs: 90_000,
      });
    } finally {
      await deleteVmi(namespace, 'vmi-a').catch(() => undefined);
      await deleteVmi(namespace, 'vmi-b').catch(() => undefined);
    }
  }, 240_000);
});
