import { AuthorizationV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { adminKubeConfig } from './cluster';
import { waitUntil } from './webhook';

/**
 * ServiceAccounts in `namespace`, of which `readers` may `get /metrics` (a ClusterRole and binding named `role`,
 * as Prometheus is usually granted), the others nothing. Returns the clean-up of the cluster-wide objects.
 */
export async function metricsReaders(
  namespace: string,
  role: string,
  accounts: { readers: string[]; others: string[] },
): Promise<() => Promise<void>> {
  const kc = adminKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  for (const name of [...accounts.readers, ...accounts.others])
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await rbac.createClusterRole({
    body: { metadata: { name: role }, rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }] },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: role },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
      subjects: accounts.readers.map((name) => ({ kind: 'ServiceAccount', name, namespace })),
    },
  });
  return async () => {
    await rbac.deleteClusterRoleBinding({ name: role }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: role }).catch(() => undefined);
  };
}

/** Waits until the RBAC authorizer lets `user` get /metrics (its cache follows the bindings within moments). */
export async function waitForMetricsAccess(user: string): Promise<void> {
  const authorization = adminKubeConfig().makeApiClient(AuthorizationV1Api);
  await waitUntil(`RBAC to let ${user} get /metrics`, async () => {
    const review = await authorization.createSubjectAccessReview({
      body: { spec: { user, nonResourceAttributes: { verb: 'get', path: '/metrics' } } },
    });
    return review.status?.allowed === true ? true : undefined;
  });
}
