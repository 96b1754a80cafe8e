import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OPENAPI_DOCUMENT } from '../../src/modules/admin/openapi-document';
import { admissionReview, podWithNetworks } from '../fixtures/objects';
import { REPO_ROOT } from '../support/binaries';
import { chartRbacObjects, serviceAccountToken } from '../support/chart-identity';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { postReview } from '../support/https-get';
import { startScopedManager } from '../support/scoped-manager';
import { freeLoopbackPort } from '../support/ports';
import { buildManager } from '../support/manager-process';

/** tools/schemathesis.sh installs it (npm test runs that first); SCHEMATHESIS overrides. */
const SCHEMATHESIS = process.env.SCHEMATHESIS ?? join(REPO_ROOT, '.cache', 'schemathesis', 'bin', 'st');

/**
 * schemathesis (PyPI) generates requests from the OpenAPI document the guarded server serves — valid and invalid
 * parameters, odd MACs, tokens of pages — against a manager process holding allocations, with a token allowed to
 * read everything. Any 5xx, a status the document does not list, or a body that breaks its schema fails the run.
 */
describe('the admin API under a schema-driven fuzz run (schemathesis)', () => {
  const kc = adminKubeConfig();
  const role = `kmp-fuzz-${randomBytes(4).toString('hex')}`;
  let stop: (() => Promise<void>) | undefined;

  afterAll(async () => {
    await stop?.();
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.deleteClusterRoleBinding({ name: role }).catch(() => undefined);
    await rbac.deleteClusterRole({ name: role }).catch(() => undefined);
  });

  it('finds no server error and no answer that breaks the document', async () => {
    expect(existsSync(SCHEMATHESIS)).toBe(true);
    buildManager();
    const securePort = await freeLoopbackPort();
    const started = await startScopedManager('fuzz', {
      RANGE_START: '02:ea:00:00:00:00',
      RANGE_END: '02:ea:00:00:00:ff',
      METRICS_SECURE_ADDR: `127.0.0.1:${securePort}`,
    });
    stop = started.stop;
    await started.manager.start(40_000);
    const namespace = started.manager.env.POD_NAMESPACE;
    // A reader of the admin API and of /metrics, with the chart's rules.
    const rules = chartRbacObjects(namespace)
      .filter(
        (o) =>
          o.metadata?.name === 'kubemacpool-admin-reader' ||
          o.metadata?.name === 'kubemacpool-metrics-reader',
      )
      .flatMap((o) => o.rules!);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createClusterRole({ body: { metadata: { name: role }, rules } });
    await kc
      .makeApiClient(CoreV1Api)
      .createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'fuzzer' } } });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name: 'fuzzer', namespace }],
      },
    });
    // Something to page through and look up: pods admitted (pending) in a namespace the manager serves.
    const workloads = await createTestNamespace('kmp-fuzz-pods', {
      'kubemacpool.io/test-scope': started.scope,
      'mutatepods.kubemacpool.io': 'allocate',
    });
    for (let i = 0; i < 5; i++) {
      const answer = await postReview<{ allowed: boolean; patch?: string }>(
        started.manager.port,
        admissionReview({ kind: 'Pod', namespace: workloads, object: podWithNetworks(`pod-${i}`, 'net1') }),
      );
      expect(answer).toMatchObject({ allowed: true, patch: expect.any(String) });
    }
    const token = await serviceAccountToken(namespace, 'fuzzer');
    const schema = join(controlPlaneInfo().directory, `openapi-${role}.json`);
    writeFileSync(schema, JSON.stringify(OPENAPI_DOCUMENT));
    const run = await promisify(execFile)(
      SCHEMATHESIS,
      [
        'run',
        schema,
        '--url',
        `https://127.0.0.1:${securePort}`,
        '--header',
        `Authorization: Bearer ${token}`,
        '--tls-verify',
        'false',
        '--checks',
        'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance',
        '--max-examples',
        '60',
        '--seed',
        '20261202',
        '--workers',
        '1',
        '--no-color',
      ],
      {
        // Its cache and reports go to the control plane's temporary directory, not the repository.
        cwd: controlPlaneInfo().directory,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false' },
      },
    ).catch((error: { code?: number; stdout?: string; stderr?: string }) => ({
      code: error.code,
      stdout: error.stdout ?? '',
      stderr: error.stderr ?? '',
    }));
    const output = `${run.stdout}\n${run.stderr}`;
    // The whole report when it fails: what schemathesis sent and what came back.
    expect('code' in run && run.code !== 0 ? output : 'no failures').toBe('no failures');
    expect(output).toMatch(/passed/i);
  }, 300_000);
});
