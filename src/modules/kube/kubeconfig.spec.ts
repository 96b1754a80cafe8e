import { type LoaderInput, fromKubeconfig, inCluster, planConnection } from './kubeconfig';
import { parseKubeconfigYaml } from './kubeconfig-yaml';

const base64 = (text: string) => Buffer.from(text).toString('base64');

/** A kubeconfig as `kubectl config view --raw` writes it (sigs.k8s.io/yaml: sequences at the key's column). */
const KUBECTL_YAML = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${base64('CA PEM')}
    server: https://10.0.0.1:6443
  name: prod
- cluster:
    insecure-skip-tls-verify: true
    server: "https://dev.example:6443"   # a comment
  name: dev
contexts:
- context:
    cluster: prod
    namespace: kube-system
    user: admin
  name: prod-admin
- context:
    cluster: dev
    user: 'dev user'
  name: dev
current-context: prod-admin
kind: Config
preferences: {}
users:
- name: admin
  user:
    client-certificate-data: ${base64('CERT PEM')}
    client-key-data: ${base64('KEY PEM')}
- name: dev user
  user:
    token: abc.def
`;

function input(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): LoaderInput {
  return {
    env,
    homeDirectory: '/home/me',
    readFile: (path) => files[path],
    serviceAccountDirectory: '/sa',
  };
}

describe('parseKubeconfigYaml', () => {
  it('reads the block mappings and sequences kubectl writes', () => {
    const config = parseKubeconfigYaml(KUBECTL_YAML) as Record<string, unknown>;
    expect(config['current-context']).toBe('prod-admin');
    expect(config.preferences).toEqual({});
    expect((config.clusters as unknown[])[1]).toEqual({
      cluster: { 'insecure-skip-tls-verify': true, server: 'https://dev.example:6443' },
      name: 'dev',
    });
    expect((config.users as unknown[])[1]).toEqual({ name: 'dev user', user: { token: 'abc.def' } });
  });

  it('reads indented sequences, nested sequences, quoted keys and escapes', () => {
    expect(
      parseKubeconfigYaml(`---\nlist:\n  - a\n  - "b\\tc"\n  -\n    - 1\n'it''s': 'x: y'\nempty:\nnone: ~\n`),
    ).toEqual({ list: ['a', 'b\tc', ['1']], "it's": 'x: y', empty: null, none: null });
  });

  it.each([
    ['a block scalar', 'key: |\n  text\n'],
    ['an anchor', 'key: &a value\n'],
    ['a flow mapping with content', 'key: {a: 1}\n'],
    ['a multi-line plain scalar', 'key: one\n  two\n'],
    ['several documents', 'a: 1\n---\nb: 2\n'],
  ])('refuses %s rather than guess', (_what, text) => {
    expect(() => parseKubeconfigYaml(text)).toThrow(/not supported by the kubeconfig reader/);
  });
});

describe('fromKubeconfig', () => {
  it('takes the current context: its cluster (server, CA data) and its user (client certificate and key)', () => {
    const settings = fromKubeconfig('/home/me/.kube/config', KUBECTL_YAML);
    expect(settings).toMatchObject({
      source: 'kubeconfig',
      origin: '/home/me/.kube/config',
      cluster: { name: 'prod', server: 'https://10.0.0.1:6443', skipTLSVerify: false },
      user: 'admin',
      caData: 'CA PEM',
      certData: 'CERT PEM',
      keyData: 'KEY PEM',
    });
    expect(settings.token).toBeUndefined();
  });

  it('reads JSON kubeconfigs, tokens, insecure-skip-tls-verify, and files relative to the kubeconfig', () => {
    const text = JSON.stringify({
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
      clusters: [
        {
          name: 'k',
          cluster: { server: 'https://k:6443', 'certificate-authority': 'ca.crt', 'tls-server-name': 'k8s' },
        },
      ],
      users: [
        {
          name: 'u',
          user: { tokenFile: 'token', 'client-certificate': '/abs/cert.pem', 'client-key': 'k.pem' },
        },
      ],
    });
    expect(fromKubeconfig('/etc/kmp/kubeconfig', text)).toMatchObject({
      caFile: '/etc/kmp/ca.crt',
      tokenFile: '/etc/kmp/token',
      certFile: '/abs/cert.pem',
      keyFile: '/etc/kmp/k.pem',
      tlsServerName: 'k8s',
    });
    const insecure = KUBECTL_YAML.replace('current-context: prod-admin', 'current-context: dev');
    expect(fromKubeconfig('/c', insecure)).toMatchObject({
      cluster: { name: 'dev', server: 'https://dev.example:6443', skipTLSVerify: true },
      user: 'dev user',
      token: 'abc.def',
    });
  });
});

describe('planConnection', () => {
  it('reads $KUBECONFIG with its own loader', () => {
    const plan = planConnection(input({ '/k': KUBECTL_YAML }, { KUBECONFIG: '/k' }));
    expect(plan).toMatchObject({ kind: 'direct', settings: { origin: '/k', user: 'admin' } });
  });

  it('reads ~/.kube/config when KUBECONFIG is unset, before the service account', () => {
    const plan = planConnection(input({ '/home/me/.kube/config': KUBECTL_YAML, '/sa/token': 't' }));
    expect(plan).toMatchObject({ kind: 'direct', settings: { source: 'kubeconfig' } });
  });

  it('uses the in-cluster service account when there is no kubeconfig', () => {
    const plan = planConnection(
      input({ '/sa/token': 't' }, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }),
    );
    expect(plan).toEqual({
      kind: 'direct',
      settings: {
        source: 'in-cluster',
        origin: '/sa',
        cluster: { name: 'inCluster', server: 'https://[fd00::1]:443', skipTLSVerify: false },
        user: 'inClusterUser',
        caFile: '/sa/ca.crt',
        tokenFile: '/sa/token',
      },
    });
    expect(
      inCluster({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '8080' }).cluster.server,
    ).toBe('http://10.0.0.1:8080');
  });

  it.each([
    [
      'an exec credential plugin',
      'users:\n- name: admin\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n',
      /exec credential plugin/,
    ],
    [
      'an auth-provider',
      'users:\n- name: admin\n  user:\n    auth-provider:\n      name: oidc\n',
      /auth-provider/,
    ],
    [
      'a proxy',
      'clusters:\n- name: prod\n  cluster:\n    server: https://x\n    proxy-url: http://proxy:3128\n',
      /proxy-url/,
    ],
    ['YAML beyond the subset', 'users:\n- name: admin\n  user:\n    token: |\n      abc\n', /not supported/],
  ])('hands a kubeconfig with %s to client-node, saying why', (_what, users, reason) => {
    const head = 'current-context: c\ncontexts:\n- name: c\n  context:\n    cluster: prod\n    user: admin\n';
    const clusters = users.startsWith('clusters')
      ? ''
      : 'clusters:\n- name: prod\n  cluster:\n    server: https://10.0.0.1:6443\n';
    const fallbackUsers = users.startsWith('clusters')
      ? 'users:\n- name: admin\n  user:\n    token: t\n'
      : '';
    const plan = planConnection(
      input({ '/k': head + clusters + users + fallbackUsers }, { KUBECONFIG: '/k' }),
    );
    expect(plan).toEqual({ kind: 'fallback', reason: expect.stringMatching(reason), origin: '/k' });
  });

  it('hands merged kubeconfigs and a missing KUBECONFIG to client-node', () => {
    expect(planConnection(input({}, { KUBECONFIG: '/a:/b' }))).toMatchObject({ kind: 'fallback' });
    expect(planConnection(input({}, { KUBECONFIG: '/missing' }))).toMatchObject({
      kind: 'fallback',
      reason: 'KUBECONFIG does not exist',
    });
  });

  it('falls back to http://localhost:8080 without credentials when there is nothing at all, as client-node does', () => {
    expect(planConnection(input({}))).toMatchObject({
      kind: 'direct',
      settings: { cluster: { server: 'http://localhost:8080' } },
    });
  });
});
