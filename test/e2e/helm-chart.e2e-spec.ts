import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  type KubernetesObject,
  type V1Container,
  type V1MutatingWebhookConfiguration,
  loadYaml,
} from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WEBHOOK_CONFIGURATION_NAME } from '../../src/common/webhook-configuration';
import { virtualMachine } from '../fixtures/objects';
import {
  CHART_SERVICE_ACCOUNT,
  refusedRequests,
  serviceAccountToken,
  tokenKubeconfig,
} from '../support/chart-identity';
import {
  adminKubeConfig,
  controlPlaneInfo,
  createTestNamespace,
  kubeConfigFromFile,
} from '../support/cluster';
import { CHART_DIR, RELEASE_NAME, helm, yamlDocuments } from '../support/helm';
import { ManagerProcess, buildManager } from '../support/manager-process';
import { httpsGet } from '../support/https-get';
import { waitForMetricsAccess } from '../support/metrics-readers';
import { freeLoopbackPort } from '../support/ports';
import { REPO_ROOT } from '../support/binaries';
import { VM_API, waitUntil } from '../support/webhook';

const kc = adminKubeConfig();
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const core = kc.makeApiClient(CoreV1Api);
const objects = KubernetesObjectApi.makeApiClient(kc);
const CHART_HOOKS = join(REPO_ROOT, 'dist-dev', 'src', 'chart-hooks.js');
const SCOPE_LABEL = 'kubemacpool.io/test-scope';

/** Runs the chart's helper script (what the helm test Pod and the pre-delete Job run) as a local process. */
async function chartHooks(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CHART_HOOKS, ...args], {
      env: { PATH: process.env.PATH, ...env },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failure.code ?? -1, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

/** The status code of an API call that is expected to fail, or 200 if it did not. */
async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
}

function caBundles(configuration: V1MutatingWebhookConfiguration): string[] {
  return (configuration.webhooks ?? []).map((webhook) => webhook.clientConfig.caBundle ?? '');
}

/**
 * The chart installed, upgraded, tested and uninstalled with the helm binary against the real API server. There is
 * no kubelet: the Deployment is persisted (and validated) but runs nowhere, so the test runs its manager container
 * as a local process, with the Deployment's own args and environment and a token of the chart's ServiceAccount, and
 * plays the kubelet for the helm hooks, running their command under their own ServiceAccount's token.
 */
describe('the Helm chart against the real kube-apiserver', () => {
  const scope = randomBytes(4).toString('hex');
  let namespace: string;
  let helmEnv: NodeJS.ProcessEnv;
  let helmHome: string;
  let manager: ManagerProcess | undefined;
  let saKubeconfig: string;
  const saUser = () => `system:serviceaccount:${namespace}:${CHART_SERVICE_ACCOUNT}`;
  // The webhooks serve only namespaces of this test's scope, so that this real kubemacpool-mutator (VMs opt-out)
  // leaves the other tests' namespaces alone.
  const scoped = [
    '--set-json',
    `webhook.namespaceSelector.matchExpressions=[{"key":"${SCOPE_LABEL}","operator":"In","values":["${scope}"]}]`,
  ];

  beforeAll(async () => {
    buildManager();
    // Pod Security warns about every workload template that breaks the restricted profile: helm prints the warnings.
    namespace = await createTestNamespace('kmp-chart', {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/warn': 'restricted',
    });
    helmHome = mkdtempSync(join(tmpdir(), 'kmp-helm-'));
    helmEnv = {
      ...process.env,
      KUBECONFIG: controlPlaneInfo().kubeconfigPath,
      HELM_CACHE_HOME: join(helmHome, 'cache'),
      HELM_CONFIG_HOME: join(helmHome, 'config'),
      HELM_DATA_HOME: join(helmHome, 'data'),
    };
  });

  afterAll(async () => {
    await manager?.stop();
    await admission
      .deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME })
      .catch(() => undefined);
    rmSync(helmHome, { recursive: true, force: true });
  });

  it('installs: every object it renders is accepted and persisted', async () => {
    const install = await helm(
      ['install', RELEASE_NAME, CHART_DIR, '--namespace', namespace, ...scoped],
      helmEnv,
    );
    expect(install).toMatchObject({ code: 0 });
    expect(install.stdout).toContain('STATUS: deployed');
    expect(install.stdout).toContain(`Kubemacpool`);
    expect(install.stderr).not.toMatch(/PodSecurity/);

    const manifest = await helm(['get', 'manifest', RELEASE_NAME, '--namespace', namespace], helmEnv);
    const rendered = yamlDocuments(manifest.stdout).map((document) => loadYaml<KubernetesObject>(document));
    const kinds = rendered.map((object) => `${object.kind}/${object.metadata!.name}`).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole/kubemacpool-admin-reader',
        'ClusterRole/kubemacpool-manager-role',
        'ClusterRole/kubemacpool-metrics-auth-role',
        'ClusterRole/kubemacpool-metrics-reader',
        'ClusterRoleBinding/kubemacpool-manager-rolebinding',
        'ClusterRoleBinding/kubemacpool-metrics-auth-rolebinding',
        'ConfigMap/kubemacpool-mac-range-config',
        'Deployment/kubemacpool-mac-controller-manager',
        'MutatingWebhookConfiguration/kubemacpool-mutator',
        'PodDisruptionBudget/kubemacpool-mac-controller-manager',
        'Role/kubemacpool-manager-role',
        'RoleBinding/kubemacpool-manager-rolebinding',
        'Service/kubemacpool-metrics-service',
        'Service/kubemacpool-service',
        'ServiceAccount/kubemacpool-sa',
      ].sort(),
    );
    for (const object of rendered) {
      const stored = await objects.read({
        apiVersion: object.apiVersion,
        kind: object.kind,
        metadata: { name: object.metadata!.name!, namespace: object.metadata!.namespace },
      });
      expect(stored.metadata?.uid).toBeDefined();
    }
    const deployment = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ namespace, name: 'kubemacpool-mac-controller-manager' });
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe(CHART_SERVICE_ACCOUNT);
    expect(deployment.spec?.template.metadata?.labels).toMatchObject({
      'control-plane': 'mac-controller-manager',
    });
    const manager = deployment.spec!.template.spec!.containers.find(
      (container) => container.name === 'manager',
    )!;
    expect(manager.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    const configuration = await admission.readMutatingWebhookConfiguration({
      name: WEBHOOK_CONFIGURATION_NAME,
    });
    expect(caBundles(configuration)).toEqual(['', '']);
    for (const webhook of configuration.webhooks!) {
      expect(webhook.clientConfig.service).toEqual({
        name: 'kubemacpool-service',
        namespace,
        path: webhook.clientConfig.service!.path,
        port: 443,
      });
      expect(webhook.namespaceSelector?.matchExpressions).toContainEqual({
        key: 'kubernetes.io/metadata.name',
        operator: 'NotIn',
        values: [namespace],
      });
    }
  });

  it('runs the Deployment’s manager container under the chart’s ServiceAccount: it injects the caBundle, and helm upgrade leaves it', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const deployment = await apps.readNamespacedDeployment({
      namespace,
      name: 'kubemacpool-mac-controller-manager',
    });
    const container: V1Container = deployment.spec!.template.spec!.containers.find(
      (c) => c.name === 'manager',
    )!;
    // The container's environment as the kubelet would resolve it: the range from the ConfigMap, the fieldRefs.
    const configMap = await core.readNamespacedConfigMap({ namespace, name: 'kubemacpool-mac-range-config' });
    const env: Record<string, string> = {};
    for (const variable of container.env ?? []) {
      const from = variable.valueFrom;
      if (from?.configMapKeyRef) env[variable.name] = configMap.data![from.configMapKeyRef.key];
      else if (from?.fieldRef?.fieldPath === 'metadata.namespace') env[variable.name] = namespace;
      else if (from?.fieldRef?.fieldPath === 'metadata.name')
        env[variable.name] = 'kubemacpool-mac-controller-manager-0';
      else env[variable.name] = variable.value ?? '';
    }
    expect(env).toMatchObject({ RANGE_START: '02:00:00:00:00:00', RANGE_END: '02:FF:FF:FF:FF:FF' });
    saKubeconfig = tokenKubeconfig(await serviceAccountToken(namespace, CHART_SERVICE_ACCOUNT), 'chart-sa');
    // The Deployment's args; only the guarded metrics address (:8443) moves to a free port of this machine.
    expect(container.args).toContain('--metrics-addr=:8443');
    const guardedPort = await freeLoopbackPort();
    manager = await ManagerProcess.create(
      { ...env, KUBECONFIG: saKubeconfig, CA_PROPAGATION_DELAY: '1s', LOG_LEVEL: 'log' },
      join(controlPlaneInfo().directory, `manager-chart-${scope}.log`),
      {
        args: () =>
          container.args!.map((arg) =>
            arg.startsWith('--metrics-addr=') ? `--metrics-addr=127.0.0.1:${guardedPort}` : arg,
          ),
      },
    );
    await manager.start(40_000);
    const injected = await waitUntil(
      'the manager to inject the caBundle into kubemacpool-mutator',
      async () => {
        const live = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME });
        return caBundles(live).every((bundle) => bundle !== '') ? caBundles(live) : undefined;
      },
    );

    const upgrade = await helm(
      [
        'upgrade',
        RELEASE_NAME,
        CHART_DIR,
        '--namespace',
        namespace,
        ...scoped,
        '--set',
        'webhook.timeoutSeconds=15',
      ],
      helmEnv,
    );
    expect(upgrade).toMatchObject({ code: 0 });
    // Read at once: Helm's three-way merge patches only what the chart changed, and the chart has no caBundle.
    const upgraded = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME });
    expect(upgraded.webhooks!.map((webhook) => webhook.timeoutSeconds)).toEqual([15, 15]);
    expect(caBundles(upgraded)).toEqual(injected);

    // What `helm test` runs (the chart's test Pod), against this manager: the CA from the CA Secret verifies the
    // certificate it serves. The serving certificate carries 127.0.0.1 for loopback tests.
    const caSecret = await core.readNamespacedSecret({ namespace, name: 'kubemacpool-mutator-ca' });
    const caDir = mkdtempSync(join(tmpdir(), 'kmp-chart-ca-'));
    writeFileSync(join(caDir, 'ca.crt'), Buffer.from(caSecret.data!['ca.crt'], 'base64'));
    const check = {
      SERVICE_HOST: '127.0.0.1',
      SERVICE_PORT: String(manager.port),
      CA_FILE: join(caDir, 'ca.crt'),
    };
    expect(await chartHooks(['check-readiness'], check)).toEqual({
      code: 0,
      output: expect.stringContaining('/healthz and /readyz answer 200'),
    });
    // Another CA does not verify it: the check fails, saying why.
    writeFileSync(join(caDir, 'other.crt'), Buffer.from(kc.getCurrentCluster()!.caData!, 'base64'));
    expect(await chartHooks(['check-readiness'], { ...check, CA_FILE: join(caDir, 'other.crt') })).toEqual({
      code: 1,
      output: expect.stringMatching(/^check-readiness: https:\/\/127\.0\.0\.1:\d+: .*certificate/),
    });
    rmSync(caDir, { recursive: true, force: true });

    // The guarded metrics, reviewed by the manager under the chart's identity: a ServiceAccount bound to the
    // chart's ClusterRole kubemacpool-metrics-reader reads them, another is refused, no token is refused.
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    for (const name of ['scraper', 'stranger'])
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
    const binding = `kmp-chart-scraper-${scope}`;
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: binding },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'kubemacpool-metrics-reader',
        },
        subjects: [{ kind: 'ServiceAccount', name: 'scraper', namespace }],
      },
    });
    try {
      await waitForMetricsAccess(`system:serviceaccount:${namespace}:scraper`);
      const scrape = async (token?: string) => {
        const { status, text } = await httpsGet(guardedPort, '/metrics', token);
        return { status, body: text };
      };
      expect(await scrape(await serviceAccountToken(namespace, 'scraper'))).toEqual({
        status: 200,
        body: expect.stringContaining('kubemacpool_pool_size'),
      });
      expect((await scrape(await serviceAccountToken(namespace, 'stranger'))).status).toBe(403);
      expect((await scrape()).status).toBe(401);
    } finally {
      await rbac.deleteClusterRoleBinding({ name: binding });
    }
    // Nothing the manager did under the chart's identity was refused (the API server's audit log).
    expect(refusedRequests(saUser())).toEqual([]);

    // The manager serves: a VM in a namespace of this scope gets a MAC through the chart's webhook configuration?
    // Not here: its clientConfig is the Service, which has no endpoints without a kubelet. The other suites run the
    // admission, life-cycle and certificate scenarios under the same identity (test/support/chart-identity.ts).
  }, 120_000);

  it('gives the manager’s identity nothing beyond what it uses', async () => {
    const sa: KubeConfig = kubeConfigFromFile(saKubeconfig);
    const saCore = sa.makeApiClient(CoreV1Api);
    const saAdmission = sa.makeApiClient(AdmissionregistrationV1Api);
    const saCustom = sa.makeApiClient(CustomObjectsApi);
    const other = await createTestNamespace('kmp-chart-other');
    await core.createNamespacedSecret({
      namespace: other,
      body: { metadata: { name: 'kubemacpool-service' } },
    });
    const vmNamespace = await createTestNamespace('kmp-chart-vm');
    const vm = await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      ...VM_API,
      namespace: vmNamespace,
      body: virtualMachine('vm-1', [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]),
    });
    const refused = {
      // Secrets: only its two, only in its namespace, and never as a list of all of them.
      'get a Secret of the same name in another namespace': () =>
        saCore.readNamespacedSecret({ namespace: other, name: 'kubemacpool-service' }),
      'create a Secret in another namespace': () =>
        saCore.createNamespacedSecret({ namespace: other, body: { metadata: { name: 'x' } } }),
      'list every Secret of its namespace': () => saCore.listNamespacedSecret({ namespace }),
      'get another Secret of its namespace': () =>
        saCore.readNamespacedSecret({ namespace, name: 'some-token' }),
      'list Secrets cluster-wide': () => saCore.listSecretForAllNamespaces(),
      // Pods: it watches them, it never writes them.
      'create a Pod': () =>
        saCore.createNamespacedPod({
          namespace: vmNamespace,
          body: {
            metadata: { name: 'p' },
            spec: { containers: [{ name: 'c', image: 'registry.invalid/x:1' }] },
          },
        }),
      'delete Pods': () => saCore.deleteCollectionNamespacedPod({ namespace: vmNamespace }),
      'get a Pod by name': () => saCore.readNamespacedPod({ namespace: vmNamespace, name: 'p' }),
      // Webhook configurations: its own, never another, and it can neither create nor delete one.
      'update another webhook configuration': () =>
        saAdmission.replaceMutatingWebhookConfiguration({
          name: 'some-other-webhook',
          body: { metadata: { name: 'some-other-webhook' }, webhooks: [] },
        }),
      'list every webhook configuration': () => saAdmission.listMutatingWebhookConfiguration(),
      'create a webhook configuration': () =>
        saAdmission.createMutatingWebhookConfiguration({
          body: { metadata: { name: 'evil' }, webhooks: [] },
        }),
      'delete its own webhook configuration': () =>
        saAdmission.deleteMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }),
      // VMs: a patch (the legacy finalizer), never a replace or a delete.
      'replace a VM': () =>
        saCustom.replaceNamespacedCustomObject({
          ...VM_API,
          namespace: vmNamespace,
          name: 'vm-1',
          body: vm,
        }),
      'delete a VM': () =>
        saCustom.deleteNamespacedCustomObject({ ...VM_API, namespace: vmNamespace, name: 'vm-1' }),
      // ConfigMaps: the range ConfigMap, watched by name; no other, no writes.
      'update the range ConfigMap': () =>
        saCore.patchNamespacedConfigMap({
          namespace,
          name: 'kubemacpool-mac-range-config',
          body: { data: {} },
        }),
      'list every ConfigMap of its namespace': () => saCore.listNamespacedConfigMap({ namespace }),
      'create a namespace': () =>
        saCore.createNamespace({ body: { metadata: { name: `kmp-evil-${scope}` } } }),
    };
    const outcomes: Record<string, number> = {};
    for (const [what, call] of Object.entries(refused)) outcomes[what] = await statusOf(call);
    expect(outcomes).toEqual(Object.fromEntries(Object.keys(refused).map((what) => [what, 403])));
    // The audit log the other suites' identities are checked against saw each refusal (and none of the manager's).
    expect(refusedRequests(saUser())).toHaveLength(Object.keys(refused).length);
    // And what it uses is granted (the same calls the manager makes, by name where the chart limits by name).
    const allowed = {
      'its serving Secret': () => saCore.readNamespacedSecret({ namespace, name: 'kubemacpool-service' }),
      'its Secrets, listed by name': () =>
        saCore.listNamespacedSecret({ namespace, fieldSelector: 'metadata.name=kubemacpool-mutator-ca' }),
      'its webhook configuration': () =>
        saAdmission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME }),
      'the range ConfigMap, listed by name': () =>
        saCore.listNamespacedConfigMap({
          namespace,
          fieldSelector: 'metadata.name=kubemacpool-mac-range-config',
        }),
      'every Pod': () => saCore.listPodForAllNamespaces({ limit: 1 }),
    };
    const granted: Record<string, number> = {};
    for (const [what, call] of Object.entries(allowed)) granted[what] = await statusOf(call);
    expect(granted).toEqual(Object.fromEntries(Object.keys(allowed).map((what) => [what, 200])));
  });

  it('uninstalls: the pre-delete hook removes the webhook configuration before anything else, with an identity that can do only that', async () => {
    await manager?.stop();
    manager = undefined;
    const batch = kc.makeApiClient(BatchV1Api);
    const uninstall = helm(
      ['uninstall', RELEASE_NAME, '--namespace', namespace, '--timeout', '100s'],
      helmEnv,
    );

    // The kubelet's part: run the hook Job's command, as its ServiceAccount, then report the Job complete.
    const job = await waitUntil('helm to create the pre-delete hook Job', () =>
      batch.readNamespacedJob({ namespace, name: 'kubemacpool-uninstall' }),
    );
    const command = job.spec!.template.spec!.containers[0].command!;
    expect(command.slice(2)).toEqual(['remove-webhook-configuration', WEBHOOK_CONFIGURATION_NAME]);
    const hookKubeconfig = tokenKubeconfig(
      await serviceAccountToken(namespace, job.spec!.template.spec!.serviceAccountName!),
      'uninstall-hook',
    );
    const hookCore = kubeConfigFromFile(hookKubeconfig);
    // It may delete that one configuration and nothing else.
    expect(
      await statusOf(() =>
        hookCore
          .makeApiClient(AdmissionregistrationV1Api)
          .deleteMutatingWebhookConfiguration({ name: 'other' }),
      ),
    ).toBe(403);
    expect(await statusOf(() => hookCore.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace }))).toBe(
      403,
    );
    // The Deployment is still there when the hook runs: nothing was removed before it.
    await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ namespace, name: 'kubemacpool-mac-controller-manager' });
    expect(await chartHooks(command.slice(2), { KUBECONFIG: hookKubeconfig })).toEqual({
      code: 0,
      output: `deleted MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION_NAME}\n`,
    });
    expect(
      await statusOf(() => admission.readMutatingWebhookConfiguration({ name: WEBHOOK_CONFIGURATION_NAME })),
    ).toBe(404);
    // Run again (a retried Job), it is still a success.
    expect(await chartHooks(command.slice(2), { KUBECONFIG: hookKubeconfig })).toEqual({
      code: 0,
      output: `MutatingWebhookConfiguration ${WEBHOOK_CONFIGURATION_NAME} was already gone\n`,
    });
    const now = new Date();
    await batch.replaceNamespacedJobStatus({
      namespace,
      name: 'kubemacpool-uninstall',
      body: {
        ...job,
        status: {
          startTime: now,
          completionTime: now,
          succeeded: 1,
          conditions: [
            { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now, lastProbeTime: now },
            { type: 'Complete', status: 'True', lastTransitionTime: now, lastProbeTime: now },
          ],
        },
      },
    });

    const uninstalled = await uninstall;
    expect(uninstalled).toMatchObject({ code: 0 });
    // The hook Job's Pod template meets the restricted profile too.
    expect(uninstalled.stderr).not.toMatch(/PodSecurity/);
    // Everything the release held is gone, hook objects included (hook-succeeded).
    const apps = kc.makeApiClient(AppsV1Api);
    expect(
      await statusOf(() =>
        apps.readNamespacedDeployment({ namespace, name: 'kubemacpool-mac-controller-manager' }),
      ),
    ).toBe(404);
    expect(
      await statusOf(() => core.readNamespacedServiceAccount({ namespace, name: 'kubemacpool-uninstall' })),
    ).toBe(404);
    expect(await statusOf(() => batch.readNamespacedJob({ namespace, name: 'kubemacpool-uninstall' }))).toBe(
      404,
    );
  }, 150_000);
});
