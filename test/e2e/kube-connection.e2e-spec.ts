import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import { placeholderCertificate } from '../../src/modules/certificates/placeholder-certificate';
import { KubeConnection } from '../../src/modules/kube/kube-connection';
import { KubeApiError, describeError, isNotFound } from '../../src/modules/kube/kube-errors';
import { PatchType, kubeJson, listAll } from '../../src/modules/kube/kube-http';
import { controlPlaneInfo, createTestNamespace } from '../support/cluster';

/**
 * The manager's own Kubernetes client, against the real kube-apiserver: the kubeconfig forms it loads itself, and
 * client-node's KubeConfig taking over for an exec credential plugin.
 */
describe('KubeConnection', () => {
  const info = controlPlaneInfo();
  let directory: string;

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'kmp-kube-connection-'));
  });
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  /** A kubeconfig of the test cluster whose user is `user`, written as `text(config)` (JSON by default). */
  function kubeconfig(
    name: string,
    user: Record<string, unknown>,
    cluster: Record<string, unknown> = {},
  ): string {
    const path = join(directory, name);
    writeFileSync(
      path,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'test', cluster: { server: info.server, 'certificate-authority': 'ca.crt', ...cluster } },
        ],
        users: [{ name: 'me', user }],
        contexts: [{ name: 'test', context: { cluster: 'test', user: 'me' } }],
        'current-context': 'test',
      }),
    );
    return path;
  }

  beforeEach(() => writeFileSync(join(directory, 'ca.crt'), info.caPem));

  it('loads a kubeconfig with a CA file and a token file itself, and lists, reads, creates, patches and deletes', async () => {
    writeFileSync(join(directory, 'token'), `${info.adminToken}\n`);
    const connection = await KubeConnection.fromEnvironment({
      KUBECONFIG: kubeconfig('token-file', { tokenFile: 'token' }),
    });
    expect(connection.describe()).toMatchObject({ client: 'direct', server: info.server });

    const namespace = await createTestNamespace('kube-connection');
    const namespaces = await listAll<V1Namespace>(connection, '/api/v1/namespaces');
    expect(namespaces.items.map((item) => item.metadata?.name)).toContain(namespace);

    const secrets = `/api/v1/namespaces/${namespace}/secrets`;
    const created = await kubeJson<V1Secret>(connection, {
      method: 'POST',
      path: secrets,
      body: { metadata: { name: 's' }, stringData: { a: '1' } },
    });
    expect(created.metadata?.resourceVersion).toBeDefined();
    const patched = await kubeJson<V1Secret>(connection, {
      method: 'PATCH',
      path: `${secrets}/s`,
      body: { metadata: { labels: { patched: 'merge' } } },
      contentType: PatchType.MergePatch,
    });
    expect(patched.metadata?.labels).toEqual({ patched: 'merge' });
    const jsonPatched = await kubeJson<V1Secret>(connection, {
      method: 'PATCH',
      path: `${secrets}/s`,
      body: [{ op: 'add', path: '/metadata/labels/json', value: 'patch' }],
      contentType: PatchType.JsonPatch,
    });
    expect(jsonPatched.metadata?.labels).toEqual({ patched: 'merge', json: 'patch' });
    await kubeJson(connection, {
      method: 'DELETE',
      path: `${secrets}/s`,
      body: { preconditions: { resourceVersion: jsonPatched.metadata!.resourceVersion } },
    });
    const gone = await kubeJson(connection, { path: `${secrets}/s` }).catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(KubeApiError);
    expect(isNotFound(gone)).toBe(true);
    expect((gone as KubeApiError).reason).toBe('NotFound');
    expect((gone as Error).message).toBe(`GET ${secrets}/s: HTTP 404 secrets "s" not found`);
    expect(describeError(gone)).toBe('HTTP 404: secrets "s" not found');
  });

  it('reads a YAML kubeconfig with the CA inline and a token', async () => {
    const path = join(directory, 'yaml');
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'clusters:',
        '- cluster:',
        `    certificate-authority-data: ${Buffer.from(info.caPem).toString('base64')}`,
        `    server: ${info.server}`,
        '  name: test',
        'contexts:',
        '- context:',
        '    cluster: test',
        '    user: admin',
        '  name: test',
        'current-context: test',
        'kind: Config',
        'preferences: {}',
        'users:',
        '- name: admin',
        '  user:',
        `    token: ${info.adminToken}`,
        '',
      ].join('\n'),
    );
    const connection = await KubeConnection.fromEnvironment({ KUBECONFIG: path });
    expect(connection.path).toBe('direct');
    expect((await listAll(connection, '/api/v1/namespaces')).items.length).toBeGreaterThan(0);
  });

  it('refuses an API server whose certificate the configured CA did not sign, unless told to skip verification', async () => {
    writeFileSync(
      join(directory, 'ca.crt'),
      placeholderCertificate('another CA', new Date(0), new Date(2e12)).cert,
    );
    const wrongCa = await KubeConnection.fromEnvironment({
      KUBECONFIG: kubeconfig('wrong-ca', { token: info.adminToken }),
    });
    await expect(listAll(wrongCa, '/api/v1/namespaces')).rejects.toThrow(/certificate/);
    const insecure = await KubeConnection.fromEnvironment({
      KUBECONFIG: kubeconfig(
        'insecure',
        { token: info.adminToken },
        { 'certificate-authority': undefined, 'insecure-skip-tls-verify': true },
      ),
    });
    expect((await listAll(insecure, '/api/v1/namespaces')).items.length).toBeGreaterThan(0);
  });

  it('hands a kubeconfig with an exec credential plugin to client-node, whose credentials then reach the API server', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: info.adminToken },
    });
    const path = kubeconfig('exec', {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.execPath,
        args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`],
        interactiveMode: 'Never',
      },
    });
    const connection = await KubeConnection.fromEnvironment({ KUBECONFIG: path });
    expect(connection.describe()).toEqual({
      client: 'client-node',
      server: info.server,
      origin: path,
      fallbackReason: 'user me uses an exec credential plugin',
    });
    const namespace = await createTestNamespace('kube-connection-exec');
    const namespaces = await listAll<V1Namespace>(connection, '/api/v1/namespaces', {
      fieldSelector: `metadata.name=${namespace}`,
    });
    expect(namespaces.items.map((item) => item.metadata?.name)).toEqual([namespace]);
  });

  it('reports an unauthenticated request with the status and the path', async () => {
    const connection = await KubeConnection.fromEnvironment({
      KUBECONFIG: kubeconfig('bad-token', { token: 'wrong' }),
    });
    const error = await listAll(connection, '/api/v1/namespaces').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KubeApiError);
    expect((error as KubeApiError).code).toBe(401);
    expect((error as Error).message).toMatch(/^GET \/api\/v1\/namespaces: HTTP 401 /);
  });
});
