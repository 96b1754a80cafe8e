import {
  AuthorizationV1Api,
  CoreV1Api,
  type KubeConfig,
  KubernetesObjectApi,
  type KubernetesObject,
  loadYaml,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEBHOOK_CONFIGURATION_NAME } from '../../src/common/webhook-configuration';
import { adminKubeConfig, controlPlaneInfo } from './cluster';
import { helmTemplate, yamlDocuments } from './helm';
import { waitUntil } from './webhook';

/** The chart's ServiceAccount, and the ClusterRole and Role it binds (templates/rbac.yaml). */
export const CHART_SERVICE_ACCOUNT = 'kubemacpool-sa';
const RBAC_TEMPLATES = ['templates/serviceaccount.yaml', 'templates/rbac.yaml'];

interface RbacRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}
type RbacObject = KubernetesObject & {
  rules?: RbacRule[];
  roleRef?: { name: string };
  subjects?: { name: string; namespace?: string }[];
};

/** The chart's ServiceAccount and RBAC objects as `helm template` renders them for `namespace`. */
export function chartRbacObjects(namespace: string, values: readonly string[] = []): RbacObject[] {
  const text = helmTemplate(
    [...RBAC_TEMPLATES.flatMap((template) => ['--show-only', template]), ...values],
    namespace,
  );
  return yamlDocuments(text).map((document) => loadYaml<RbacObject>(document));
}

/** A kubeconfig file for the test API server that authenticates with `token` only. */
export function tokenKubeconfig(token: string, label: string): string {
  const admin = adminKubeConfig();
  const cluster = admin.getCurrentCluster()!;
  const path = join(controlPlaneInfo().directory, `kubeconfig-${label}-${randomBytes(4).toString('hex')}`);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'test', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } },
      ],
      users: [{ name: label, user: { token } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: label } }],
      'current-context': 'test',
    }),
    { mode: 0o600 },
  );
  return path;
}

/** A bound token of ServiceAccount `namespace/name` from the TokenRequest API, as the kubelet would mount it. */
export async function serviceAccountToken(
  namespace: string,
  name: string,
  kc: KubeConfig = adminKubeConfig(),
) {
  const request = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  return request.status!.token;
}

/**
 * Every request `user` made that the API server answered 403, as `VERB URI`, from the audit log. A manager running
 * with the chart's identity must have none: each one is a call the chart's RBAC does not cover.
 */
export function refusedRequests(user: string): string[] {
  let text: string;
  try {
    text = readFileSync(controlPlaneInfo().auditLogPath, 'utf8');
  } catch {
    return [];
  }
  const refused: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || !line.includes(user)) continue;
    const event = JSON.parse(line) as {
      user?: { username?: string };
      verb?: string;
      requestURI?: string;
      responseStatus?: { code?: number };
    };
    if (event.user?.username === user && event.responseStatus?.code === 403)
      refused.push(`${event.verb} ${event.requestURI}`);
  }
  return refused;
}

/** Waits until the RBAC authorizer lets `user` do what the last two bindings grant (its cache follows the API). */
export async function waitForAccess(
  user: string,
  checks: { namespace?: string; verb: string; group: string; resource: string; name?: string }[],
): Promise<void> {
  const authorization = adminKubeConfig().makeApiClient(AuthorizationV1Api);
  await waitUntil(`RBAC to grant ${user} what the chart binds`, async () => {
    for (const check of checks) {
      const review = await authorization.createSubjectAccessReview({
        body: { spec: { user, resourceAttributes: check } },
      });
      if (!review.status?.allowed) return undefined;
    }
    return true;
  });
}

/**
 * The identity the chart gives the manager, for a manager in `namespace` serving the webhook configuration
 * `configurationName`: the chart's ServiceAccount, ClusterRole, Role and bindings, exactly as `helm template`
 * renders them for that namespace, created in the test API server, and a kubeconfig with a TokenRequest token of
 * that ServiceAccount and nothing else. Tests run side by side, each with its own webhook configuration and
 * namespace, so two things are adapted, nothing else: the cluster-scoped objects get a suffix, and the resourceNames
 * that name the chart's webhook configuration and its CA Secret name the test's. Verbs, resources and API groups
 * are the chart's. `release` deletes the cluster-scoped objects (the namespace takes the rest with it), and fails if
 * the API server refused any request of this identity (its audit log says so), whatever the scenario asserted.
 */
export async function chartIdentity(
  namespace: string,
  configurationName: string,
): Promise<{ kubeconfigPath: string; release: () => Promise<void> }> {
  const suffix = randomBytes(4).toString('hex');
  const renamed = (name: string) => (name.startsWith('kubemacpool-') ? `${name}-${suffix}` : name);
  const resourceName = (name: string) =>
    name === WEBHOOK_CONFIGURATION_NAME
      ? configurationName
      : name === `${WEBHOOK_CONFIGURATION_NAME}-ca`
        ? `${configurationName}-ca`
        : name;
  const objects = chartRbacObjects(namespace).map((object) => {
    const clusterScoped = object.kind === 'ClusterRole' || object.kind === 'ClusterRoleBinding';
    return {
      ...object,
      metadata: {
        ...object.metadata,
        name: clusterScoped ? renamed(object.metadata!.name!) : object.metadata!.name,
      },
      ...(object.rules === undefined
        ? {}
        : {
            rules: object.rules.map((rule) =>
              rule.resourceNames === undefined
                ? rule
                : { ...rule, resourceNames: rule.resourceNames.map(resourceName) },
            ),
          }),
      ...(object.kind === 'ClusterRoleBinding'
        ? { roleRef: { ...object.roleRef!, name: renamed(object.roleRef!.name) } }
        : {}),
    } as RbacObject;
  });
  const api = KubernetesObjectApi.makeApiClient(adminKubeConfig());
  for (const object of objects) await api.create(object);
  const user = `system:serviceaccount:${namespace}:${CHART_SERVICE_ACCOUNT}`;
  await waitForAccess(user, [
    {
      verb: 'update',
      group: 'admissionregistration.k8s.io',
      resource: 'mutatingwebhookconfigurations',
      name: configurationName,
    },
    { namespace, verb: 'create', group: '', resource: 'secrets' },
    // The guarded metrics endpoint's reviews (the chart's default metrics.serving=manager).
    { verb: 'create', group: 'authorization.k8s.io', resource: 'subjectaccessreviews' },
  ]);
  const kubeconfigPath = tokenKubeconfig(
    await serviceAccountToken(namespace, CHART_SERVICE_ACCOUNT),
    'chart-sa',
  );
  const release = async () => {
    for (const object of objects.filter((o) => o.kind?.startsWith('Cluster')))
      await api.delete(object).catch(() => undefined);
  };
  return { kubeconfigPath, release };
}
