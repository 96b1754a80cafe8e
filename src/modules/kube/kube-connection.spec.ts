import { Agent as HttpsAgent } from 'node:https';
import { KubeConnection, requestCredentials } from './kube-connection';
import { type ConnectionSettings } from './kubeconfig';

function settings(overrides: Partial<ConnectionSettings>): ConnectionSettings {
  return {
    source: 'in-cluster',
    origin: '/sa',
    cluster: { name: 'inCluster', server: 'https://10.0.0.1:443', skipTLSVerify: false },
    user: 'inClusterUser',
    ...overrides,
  };
}

describe('KubeConnection.fromSettings', () => {
  it('re-reads a rotating token file after a minute, keeping the last token while the file is unreadable', async () => {
    const files: Record<string, string> = { '/sa/token': 'first\n', '/sa/ca.crt': 'CA' };
    let now = 0;
    const connection = KubeConnection.fromSettings(
      settings({ caFile: '/sa/ca.crt', tokenFile: '/sa/token' }),
      (path) => {
        if (files[path] === undefined) throw new Error(`ENOENT ${path}`);
        return files[path];
      },
      () => now,
    );
    const bearer = async () => (await connection.applyToFetchOptions()).headers.authorization;
    expect(await bearer()).toBe('Bearer first');
    files['/sa/token'] = 'second';
    now = 59_999;
    expect(await bearer()).toBe('Bearer first');
    now = 60_000;
    expect(await bearer()).toBe('Bearer second');
    delete files['/sa/token'];
    now = 200_000;
    expect(await bearer()).toBe('Bearer second');
  });

  it('fails at once, naming the file, when the token file cannot be read at all', () => {
    expect(() =>
      KubeConnection.fromSettings(settings({ tokenFile: '/sa/token' }), () => {
        throw new Error('ENOENT');
      }),
    ).toThrow('cannot read the token file /sa/token: ENOENT');
  });

  it('makes one keep-alive TLS agent with the CA, client certificate and key, and skips verification only when asked', async () => {
    const connection = KubeConnection.fromSettings(
      settings({ caData: 'CA', certFile: '/c', keyData: 'KEY', tlsServerName: 'kubernetes' }),
      (path) => `file ${path}`,
    );
    const first = await connection.applyToFetchOptions();
    const second = await connection.applyToFetchOptions();
    expect(second.agent).toBe(first.agent);
    expect(first.agent).toBeInstanceOf(HttpsAgent);
    expect((first.agent as HttpsAgent).options).toMatchObject({
      keepAlive: true,
      ca: 'CA',
      cert: 'file /c',
      key: 'KEY',
      servername: 'kubernetes',
      rejectUnauthorized: true,
    });
    expect(first.headers.authorization).toBeUndefined();
    const insecure = KubeConnection.fromSettings(
      settings({ cluster: { name: 'c', server: 'https://x', skipTLSVerify: true }, token: 't' }),
    );
    const options = await insecure.applyToFetchOptions();
    expect((options.agent as HttpsAgent).options.rejectUnauthorized).toBe(false);
    expect(options.headers.authorization).toBe('Bearer t');
    expect(insecure.describe()).toEqual({ client: 'direct', server: 'https://x', origin: '/sa' });
  });

  it('sends basic credentials for a username and password', async () => {
    const connection = KubeConnection.fromSettings(settings({ username: 'me', password: 'secret' }));
    expect((await requestCredentials(connection)).headers.authorization).toBe(
      `Basic ${Buffer.from('me:secret').toString('base64')}`,
    );
  });
});
