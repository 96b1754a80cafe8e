import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { AccessReviewRepository } from '../../src/modules/access/access-review.repository';
import { AccessReviewService, CACHE_TTL_MS } from '../../src/modules/access/access-review.service';
import { KubeConnection } from '../../src/modules/kube/kube-connection';
import { serviceAccountToken } from '../support/chart-identity';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { metricsReaders } from '../support/metrics-readers';
import { waitUntil } from '../support/webhook';

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const METRICS = { path: '/metrics', verb: 'get' };

/**
 * The guard's reviews against the real kube-apiserver: ServiceAccount tokens from the TokenRequest API, RBAC on a
 * non-resource URL, and a token revoked by deleting its ServiceAccount. The clock is the test's, so cache expiry is
 * stepped, not waited for.
 */
describe('access reviews (TokenReview and SubjectAccessReview) against the real kube-apiserver', () => {
  const scope = randomBytes(4).toString('hex');
  const role = `kmp-access-test-${scope}`;
  let namespace: string;
  let cleanUp: (() => Promise<void>) | undefined;
  let now = 0;
  let service: AccessReviewService;
  let repository: AccessReviewRepository;

  beforeAll(async () => {
    namespace = await createTestNamespace('kmp-access');
    cleanUp = await metricsReaders(namespace, role, { readers: ['reader'], others: ['stranger'] });
    const connection = await KubeConnection.fromEnvironment({
      KUBECONFIG: controlPlaneInfo().kubeconfigPath,
    });
    repository = new AccessReviewRepository(connection);
    service = new AccessReviewService(repository, () => now);
  });

  afterAll(async () => {
    await rbac.deleteClusterRoleBinding({ name: `${role}-revoked` }).catch(() => undefined);
    await cleanUp?.();
  });

  it('allows a ServiceAccount RBAC lets get /metrics, refuses another with 403 and a foreign token with 401', async () => {
    const reader = await serviceAccountToken(namespace, 'reader');
    const stranger = await serviceAccountToken(namespace, 'stranger');
    expect(await service.check(`Bearer ${reader}`, METRICS)).toMatchObject({
      allowed: true,
      user: { username: `system:serviceaccount:${namespace}:reader` },
    });
    // Not /api/…: Kubernetes' own system:discovery role lets every authenticated user get /api/* and /apis/*.
    expect(await service.check(`Bearer ${reader}`, { path: '/kubemacpool/pool', verb: 'get' })).toMatchObject(
      {
        allowed: false,
        status: 403,
        message: `system:serviceaccount:${namespace}:reader may not get /kubemacpool/pool`,
      },
    );
    expect(await service.check(`Bearer ${reader}`, { path: '/api/v1/pool', verb: 'get' })).toMatchObject({
      allowed: true,
    });
    expect(await service.check(`Bearer ${stranger}`, METRICS)).toMatchObject({
      allowed: false,
      status: 403,
      message: `system:serviceaccount:${namespace}:stranger may not get /metrics`,
    });
    expect(await service.check(`Bearer ${randomBytes(32).toString('base64url')}`, METRICS)).toMatchObject({
      allowed: false,
      status: 401,
    });
    expect(await service.check(undefined, METRICS)).toMatchObject({ allowed: false, status: 401 });
  });

  it('stops accepting a revoked token once its cached review expired', async () => {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'revoked' } } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `${role}-revoked` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name: 'revoked', namespace }],
      },
    });
    const token = await serviceAccountToken(namespace, 'revoked');
    expect(await service.check(`Bearer ${token}`, METRICS)).toMatchObject({ allowed: true });
    await core.deleteNamespacedServiceAccount({ namespace, name: 'revoked' });
    // The API server caches token authentications itself for a few seconds: wait until it refuses the token.
    await waitUntil('the API server to refuse the revoked token', async () =>
      (await repository.reviewToken(token)).authenticated ? undefined : true,
    );
    // Within the token's cache time the cached review still answers, as in kube-rbac-proxy.
    expect(await service.check(`Bearer ${token}`, METRICS)).toMatchObject({ allowed: true });
    now += CACHE_TTL_MS.token;
    expect(await service.check(`Bearer ${token}`, METRICS)).toMatchObject({ allowed: false, status: 401 });
  });
});
