import { type KubernetesObject, loadYaml } from '@kubernetes/client-node';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { staleManifests } from '../../scripts/render-manifests';
import {
  RELEASE_WEBHOOK_CONFIGURATION_OPTIONS,
  buildWebhookConfiguration,
} from '../../src/common/webhook-configuration';
import { TLS_GROUP_NAMES, TLS_SUITE_NAMES } from '../../src/config/tls-names';
import { CHART_DIR, RELEASE_NAME, helm, yamlDocuments } from '../support/helm';

/** The scenario values files (ci/*-values.yaml), as chart-testing reads them. */
const VALUES_FILES = readdirSync(join(CHART_DIR, 'ci'))
  .filter((file) => file.endsWith('-values.yaml'))
  .sort();
const MONITORING_API = ['--api-versions', 'monitoring.coreos.com/v1'];

type Rendered = KubernetesObject & Record<string, unknown>;

async function render(args: string[], namespace = 'kmp-chart-test'): Promise<Rendered[]> {
  const result = await helm(['template', RELEASE_NAME, CHART_DIR, '--namespace', namespace, ...args]);
  if (result.code !== 0) throw new Error(`helm template ${args.join(' ')} failed: ${result.stderr}`);
  // Plain objects (loadYaml makes client-node model classes of what it knows), compared as JSON.
  return yamlDocuments(result.stdout).map(
    (document) => JSON.parse(JSON.stringify(loadYaml(document))) as Rendered,
  );
}

function find(objects: Rendered[], kind: string, name?: string): Rendered {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ''} rendered`);
  return found;
}

const names = (objects: Rendered[]) => objects.map((o) => `${o.kind}/${o.metadata!.name}`).sort();

interface PodSpec {
  containers: {
    name: string;
    args?: string[];
    image: string;
    securityContext?: unknown;
    env?: { name: string; value?: string }[];
    ports?: unknown[];
  }[];
  securityContext?: unknown;
  [key: string]: unknown;
}
const podSpec = (deployment: Rendered) => (deployment.spec as { template: { spec: PodSpec } }).template.spec;

describe('the Helm chart helm/kubemacpool', () => {
  it.each([...VALUES_FILES])('passes helm lint --strict with ci/%s', async (file) => {
    const result = await helm(['lint', '--strict', CHART_DIR, '--values', join(CHART_DIR, 'ci', file)]);
    expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  it('has at least the defaults and three other scenario values files', () => {
    expect(VALUES_FILES).toContain('default-values.yaml');
    expect(VALUES_FILES.length).toBeGreaterThanOrEqual(4);
  });

  it.each([...VALUES_FILES])(
    'renders with ci/%s, never with a caBundle, never with a wildcard',
    async (file) => {
      const objects = await render(['--values', join(CHART_DIR, 'ci', file), ...MONITORING_API]);
      const text = JSON.stringify(objects);
      expect(text).not.toContain('caBundle');
      for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
        for (const rule of role.rules as { verbs: string[]; resources?: string[]; apiGroups?: string[] }[]) {
          expect([...rule.verbs, ...(rule.resources ?? []), ...(rule.apiGroups ?? [])]).not.toContain('*');
        }
      }
      const deployment = find(objects, 'Deployment', 'kubemacpool-mac-controller-manager');
      // A new Pod is ready before an old one stops, so an upgrade never leaves the webhook unanswered.
      expect(deployment.spec).toMatchObject({
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      });
    },
  );

  describe('with the default values', () => {
    let objects: Rendered[];
    beforeAll(async () => (objects = await render([])));

    it('renders upstream’s objects by upstream’s names, and the helm hooks', () => {
      expect(names(objects)).toEqual(
        [
          'ClusterRole/kubemacpool-admin-reader',
          'ClusterRole/kubemacpool-manager-role',
          'ClusterRole/kubemacpool-metrics-auth-role',
          'ClusterRole/kubemacpool-metrics-reader',
          'ClusterRole/kubemacpool-uninstall',
          'ClusterRoleBinding/kubemacpool-manager-rolebinding',
          'ClusterRoleBinding/kubemacpool-metrics-auth-rolebinding',
          'ClusterRoleBinding/kubemacpool-uninstall',
          'ConfigMap/kubemacpool-mac-range-config',
          'Deployment/kubemacpool-mac-controller-manager',
          'Job/kubemacpool-uninstall',
          'MutatingWebhookConfiguration/kubemacpool-mutator',
          'Pod/kubemacpool-test-readiness',
          'PodDisruptionBudget/kubemacpool-mac-controller-manager',
          'Role/kubemacpool-manager-role',
          'RoleBinding/kubemacpool-manager-rolebinding',
          'Service/kubemacpool-metrics-service',
          'Service/kubemacpool-service',
          'ServiceAccount/kubemacpool-sa',
          'ServiceAccount/kubemacpool-uninstall',
        ].sort(),
      );
    });

    it('renders the webhook configuration the manager’s builder makes for the release namespace (labels aside)', async () => {
      const inRelease = await render([], 'kubemacpool-system');
      const configuration = find(inRelease, 'MutatingWebhookConfiguration');
      const { labels, ...metadata } = configuration.metadata!;
      expect(labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'Helm' });
      expect({ ...configuration, metadata }).toStrictEqual(
        buildWebhookConfiguration(RELEASE_WEBHOOK_CONFIGURATION_OPTIONS),
      );
    });

    it('excludes the release namespace, whatever it is called', () => {
      const configuration = find(objects, 'MutatingWebhookConfiguration');
      for (const webhook of configuration.webhooks as {
        namespaceSelector: { matchExpressions: unknown[] };
        clientConfig: { service: { namespace: string } };
      }[]) {
        expect(webhook.namespaceSelector.matchExpressions).toContainEqual({
          key: 'kubernetes.io/metadata.name',
          operator: 'NotIn',
          values: ['kmp-chart-test'],
        });
        expect(webhook.clientConfig.service.namespace).toBe('kmp-chart-test');
      }
    });

    it('runs the manager with restricted security, upstream’s args and the guarded metrics on 8443, no sidecar', () => {
      const spec = podSpec(find(objects, 'Deployment'));
      expect(spec.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 107,
        runAsGroup: 107,
        fsGroup: 107,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(spec.priorityClassName).toBe('system-cluster-critical');
      expect(spec.containers.map((c) => c.name)).toEqual(['manager']);
      const [manager] = spec.containers;
      expect(manager.image).toBe('ghcr.io/kubemacpool/kubemacpool-ts:0.1.0');
      expect(manager.args).toEqual([
        '--v=production',
        '--wait-time=300',
        '--metrics-addr=:8443',
        '--tls-min-version=VersionTLS12',
      ]);
      expect(manager.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(manager.ports).toEqual([
        { name: 'webhook-server', containerPort: 8000, protocol: 'TCP' },
        { name: 'metrics', containerPort: 8443, protocol: 'TCP' },
      ]);
      // No plain endpoint: the manager's default is off.
      expect(manager.env!.map((e) => e.name)).not.toContain('METRICS_ADDR');
      // The manager reviews each scraper's token and request itself.
      const auth = find(objects, 'ClusterRole', 'kubemacpool-metrics-auth-role');
      expect(auth.rules).toEqual([
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      ]);
      expect(find(objects, 'ClusterRole', 'kubemacpool-metrics-reader').rules).toEqual([
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ]);
      // The admin API's reads, as resources (every authenticated user may get /api/* as a path).
      expect(find(objects, 'ClusterRole', 'kubemacpool-admin-reader').rules).toEqual([
        { apiGroups: ['kubemacpool.io'], resources: ['pool', 'macs'], verbs: ['get'] },
        { apiGroups: ['kubemacpool.io'], resources: ['allocations', 'collisions'], verbs: ['list'] },
      ]);
      expect(find(objects, 'Service', 'kubemacpool-metrics-service').spec).toMatchObject({
        ports: [{ name: 'metrics', port: 8443, targetPort: 8443, protocol: 'TCP' }],
      });
    });

    it('puts kube-rbac-proxy in front of plain metrics on loopback with metrics.serving=kubeRbacProxy', async () => {
      const proxied = await render(['--set', 'metrics.serving=kubeRbacProxy']);
      const [manager, proxy] = podSpec(find(proxied, 'Deployment')).containers;
      expect(manager.args).toEqual(['--v=production', '--wait-time=300', '--tls-min-version=VersionTLS12']);
      expect(manager.env!).toEqual(
        expect.arrayContaining([
          { name: 'METRICS_ADDR', value: '127.0.0.1:8080' },
          { name: 'METRICS_SECURE_ADDR', value: '' },
        ]),
      );
      expect(proxy.name).toBe('kube-rbac-proxy');
      expect(proxy.args).toEqual([
        '--secure-listen-address=:8443',
        '--upstream=http://127.0.0.1:8080/',
        '--allow-paths=/metrics',
        '--tls-min-version=VersionTLS12',
      ]);
      expect(proxy.securityContext).toEqual(manager.securityContext);
      expect(names(proxied)).toEqual(
        expect.arrayContaining([
          'ClusterRole/kubemacpool-metrics-auth-role',
          'Service/kubemacpool-metrics-service',
        ]),
      );
    });

    it('keeps metrics on the Pod’s loopback with metrics.serving=none: no Service, no review permissions', async () => {
      const closed = await render(['--set', 'metrics.serving=none']);
      const [manager, ...others] = podSpec(find(closed, 'Deployment')).containers;
      expect(others).toEqual([]);
      expect(manager.args).not.toContainEqual(expect.stringMatching(/^--metrics-addr/));
      expect(manager.env!).toEqual(
        expect.arrayContaining([
          { name: 'METRICS_ADDR', value: '127.0.0.1:8080' },
          { name: 'METRICS_SECURE_ADDR', value: '' },
        ]),
      );
      expect(names(closed).filter((n) => /metrics/.test(n))).toEqual([]);
    });

    it('renders no ServiceMonitor or PrometheusRule or NetworkPolicy', () => {
      const kinds = objects.map((o) => o.kind);
      for (const kind of ['ServiceMonitor', 'PrometheusRule', 'NetworkPolicy'])
        expect(kinds).not.toContain(kind);
    });

    it('runs two replicas spread over nodes, with a PodDisruptionBudget keeping one', () => {
      const deployment = find(objects, 'Deployment', 'kubemacpool-mac-controller-manager');
      const spec = deployment.spec as {
        replicas: number;
        template: { spec: { topologySpreadConstraints: unknown[] } };
      };
      expect(spec.replicas).toBe(2);
      expect(spec.template.spec.topologySpreadConstraints).toEqual([
        {
          maxSkew: 1,
          topologyKey: 'kubernetes.io/hostname',
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { 'control-plane': 'mac-controller-manager' } },
        },
      ]);
      expect(find(objects, 'PodDisruptionBudget', 'kubemacpool-mac-controller-manager').spec).toEqual({
        minAvailable: 1,
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
        selector: { matchLabels: { 'control-plane': 'mac-controller-manager' } },
      });
    });
  });

  it('renders the ServiceMonitor and PrometheusRule only when enabled and the monitoring.coreos.com API exists', async () => {
    const enabled = ['--set', 'metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true'];
    expect(names(await render(enabled)).filter((n) => /Prometheus|ServiceMonitor/.test(n))).toEqual([]);
    const withApi = await render([...enabled, ...MONITORING_API]);
    expect(names(withApi)).toEqual(
      expect.arrayContaining([
        'PrometheusRule/kubemacpool-prometheus-rule',
        'ServiceMonitor/kubemacpool-metrics-monitor',
      ]),
    );
    // Upstream's tlsConfig unless one is given (verifying the manager's certificate with the webhook CA).
    const endpoint = (monitor: Rendered) =>
      (monitor.spec as { endpoints: Record<string, unknown>[] }).endpoints[0];
    expect(endpoint(find(withApi, 'ServiceMonitor'))).toMatchObject({
      port: 'metrics',
      scheme: 'https',
      bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      tlsConfig: { insecureSkipVerify: true },
    });
    const verifying = await render([
      ...enabled,
      ...MONITORING_API,
      '--set-json',
      'metrics.serviceMonitor.tlsConfig={"ca":{"secret":{"name":"kubemacpool-mutator-ca","key":"ca.crt"}},"serverName":"kubemacpool-service.kmp-chart-test.svc"}',
    ]);
    expect(endpoint(find(verifying, 'ServiceMonitor')).tlsConfig).toEqual({
      ca: { secret: { name: 'kubemacpool-mutator-ca', key: 'ca.crt' } },
      serverName: 'kubemacpool-service.kmp-chart-test.svc',
    });
    const rule = find(withApi, 'PrometheusRule');
    const groups = (rule.spec as { groups: { rules: { alert: string }[] }[] }).groups;
    expect(groups.flatMap((g) => g.rules.map((r) => r.alert))).toContain('KubemacpoolMACCollisionDetected');
  });

  it('refuses a ServiceMonitor when nothing serves the metrics beyond the Pod, saying why', async () => {
    const result = await helm([
      'template',
      RELEASE_NAME,
      CHART_DIR,
      ...MONITORING_API,
      '--set',
      'metrics.serviceMonitor.enabled=true,metrics.serving=none',
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'metrics.serviceMonitor.enabled needs metrics.serving manager or kubeRbacProxy',
    );
  });

  it('switches the opt mode per kind, and sets failurePolicy and timeoutSeconds', async () => {
    const objects = await render([
      '--set',
      'webhook.pods.mode=opt-out,webhook.virtualMachines.mode=opt-in,webhook.failurePolicy=Ignore,webhook.timeoutSeconds=30',
    ]);
    const webhooks = find(objects, 'MutatingWebhookConfiguration').webhooks as {
      name: string;
      failurePolicy: string;
      timeoutSeconds: number;
      namespaceSelector: { matchExpressions: unknown[] };
    }[];
    expect(
      webhooks.map((w) => [
        w.name,
        w.namespaceSelector.matchExpressions[0],
        w.failurePolicy,
        w.timeoutSeconds,
      ]),
    ).toEqual([
      [
        'mutatepods.kubemacpool.io',
        { key: 'mutatepods.kubemacpool.io', operator: 'NotIn', values: ['ignore'] },
        'Ignore',
        30,
      ],
      [
        'mutatevirtualmachines.kubemacpool.io',
        { key: 'mutatevirtualmachines.kubemacpool.io', operator: 'In', values: ['allocate'] },
        'Ignore',
        30,
      ],
    ]);
  });

  it('writes the range into the ConfigMap the manager reads', async () => {
    const objects = await render([
      '--set',
      'pool.rangeStart=02:1a:00:00:00:00,pool.rangeEnd=02:1a:00:00:ff:ff',
    ]);
    expect(find(objects, 'ConfigMap', 'kubemacpool-mac-range-config').data).toEqual({
      RANGE_START: '02:1a:00:00:00:00',
      RANGE_END: '02:1a:00:00:ff:ff',
    });
  });

  it('passes the TLS settings to kube-rbac-proxy as well', async () => {
    const objects = await render([
      '--set',
      'metrics.serving=kubeRbacProxy,manager.tls.minVersion=VersionTLS13,manager.tls.cipherSuites={TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}',
    ]);
    const proxy = podSpec(find(objects, 'Deployment')).containers.find((c) => c.name === 'kube-rbac-proxy')!;
    expect(proxy.args).toEqual([
      '--secure-listen-address=:8443',
      '--upstream=http://127.0.0.1:8080/',
      '--allow-paths=/metrics',
      '--tls-min-version=VersionTLS13',
      '--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    ]);
  });

  it('keeps version labels out of the Pod template, so a new chart version alone restarts nothing', async () => {
    const template = (
      find(await render([]), 'Deployment').spec as { template: { metadata: { labels: object } } }
    ).template;
    expect(template.metadata.labels).toEqual({
      'app.kubernetes.io/name': 'kubemacpool',
      'app.kubernetes.io/instance': RELEASE_NAME,
      'control-plane': 'mac-controller-manager',
      app: 'kubemacpool',
    });
  });

  it('passes upstream’s TLS flags to the manager (hardened values: metrics on loopback only)', async () => {
    const objects = await render(['--values', join(CHART_DIR, 'ci', 'hardened-values.yaml')]);
    const spec = podSpec(find(objects, 'Deployment'));
    expect(spec.containers.map((c) => c.name)).toEqual(['manager']);
    expect(spec.containers[0].image).toBe(
      'registry.example.com/kubemacpool/kubemacpool-ts@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
    );
    expect(spec.containers[0].args).toEqual([
      '--v=debug',
      '--wait-time=600',
      '--tls-min-version=VersionTLS13',
      '--tls-cipher-suites=TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384',
      '--tls-group-preferences=X25519MLKEM768,X25519,CurveP256',
    ]);
    expect(spec.priorityClassName).toBeUndefined();
  });

  it('renders no PodDisruptionBudget with one replica (it would block every node drain)', async () => {
    const objects = await render(['--set', 'replicaCount=1']);
    expect(find(objects, 'Deployment', 'kubemacpool-mac-controller-manager').spec).toMatchObject({
      replicas: 1,
    });
    expect(objects.map((o) => o.kind)).not.toContain('PodDisruptionBudget');
  });

  describe('values.schema.json, through helm’s own validation', () => {
    const fails = async (set: string[]) => {
      const result = await helm(['template', RELEASE_NAME, CHART_DIR, ...set]);
      expect(result.code).not.toBe(0);
      return result.stderr;
    };

    it('rejects a malformed MAC and a multicast one', async () => {
      expect(await fails(['--set', 'pool.rangeStart=02:00:00:00:00'])).toMatch(
        /values don't meet the specifications of the schema[\s\S]*pool[\s\S]*rangeStart[\s\S]*does not match pattern/,
      );
      expect(await fails(['--set', 'pool.rangeEnd=03:00:00:00:00:00'])).toMatch(
        /rangeEnd[\s\S]*does not match pattern/,
      );
    });

    it('rejects an unknown key, at the top and nested', async () => {
      expect(await fails(['--set', 'replicas=2'])).toMatch(/additional properties 'replicas' not allowed/);
      expect(await fails(['--set', 'webhook.pod.mode=opt-in'])).toMatch(
        /additional properties 'pod' not allowed/,
      );
    });

    it('rejects an unknown metrics.serving, and the removed kubeRbacProxy.enabled', async () => {
      expect(await fails(['--set', 'metrics.serving=proxy'])).toMatch(
        /serving[\s\S]*(must be one of|value must be)/,
      );
      expect(await fails(['--set', 'metrics.kubeRbacProxy.enabled=true'])).toMatch(
        /additional properties 'enabled' not allowed|additionalProperties/,
      );
    });

    it('rejects a bad opt mode', async () => {
      expect(await fails(['--set', 'webhook.pods.mode=optin'])).toMatch(
        /webhook[\s\S]*pods[\s\S]*mode[\s\S]*value must be one of 'opt-in', 'opt-out'/,
      );
    });

    it('asks for kube-rbac-proxy’s tag (the chart’s appVersion is the manager’s)', async () => {
      expect(await fails(['--set', 'metrics.kubeRbacProxy.image.tag='])).toMatch(
        /kubeRbacProxy\/image\/tag[\s\S]*minLength|length must be >= 1/,
      );
    });

    it('rejects no replica at all, and a timeout above 30 s', async () => {
      expect(await fails(['--set', 'replicaCount=0'])).toMatch(/replicaCount[\s\S]*minimum/);
      expect(await fails(['--set', 'webhook.timeoutSeconds=31'])).toMatch(/timeoutSeconds[\s\S]*maximum/);
    });

    it('offers exactly the TLS suites and groups the manager accepts', () => {
      const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as {
        properties: {
          manager: { properties: { tls: { properties: Record<string, { items: { enum: string[] } }> } } };
        };
      };
      const tls = schema.properties.manager.properties.tls.properties;
      expect([...tls.cipherSuites.items.enum].sort()).toEqual([...TLS_SUITE_NAMES].sort());
      expect([...tls.groupPreferences.items.enum].sort()).toEqual([...TLS_GROUP_NAMES].sort());
    });
  });

  it('rendered the plain manifests in k8s/ from the chart as it is now (npm run manifests)', () => {
    expect(staleManifests()).toEqual([]);
  });
});
