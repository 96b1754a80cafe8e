import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { connect, createSecureContext } from 'node:tls';
import { join } from 'node:path';
import { chartIdentity, serviceAccountToken } from '../support/chart-identity';
import { controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { metricsReaders } from '../support/metrics-readers';
import { logRecords } from '../support/manager-log';
import { ManagerProcess, buildManager } from '../support/manager-process';
import { freeLoopbackPort } from '../support/ports';

interface Answer {
  status: number;
  body: string;
  fingerprint: string;
}

function get(port: number, path: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        rejectUnauthorized: false,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      },
      (response) => {
        // Read while the socket is still attached to the response.
        const peer = response.socket as unknown as { getPeerCertificate(): { fingerprint256: string } };
        const fingerprint = peer.getPeerCertificate().fingerprint256;
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, fingerprint }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * A manager process in `namespace` with the guarded metrics endpoint on a free port, under the chart's identity
 * (its ClusterRole kubemacpool-metrics-auth-role lets it create the reviews). `stop` stops it and removes the identity.
 */
async function startGuardedManager(
  namespace: string,
  name: string,
  octet: string,
  env: Record<string, string> = {},
): Promise<{ manager: ManagerProcess; securePort: number; stop: () => Promise<void> }> {
  const securePort = await freeLoopbackPort();
  const identity = await chartIdentity(namespace, name);
  const manager = await ManagerProcess.create(
    {
      KUBECONFIG: identity.kubeconfigPath,
      POD_NAMESPACE: namespace,
      WEBHOOK_CONFIGURATION_NAME: name,
      RANGE_START: `02:${octet}:00:00:00:00`,
      RANGE_END: `02:${octet}:00:00:ff:ff`,
      CA_PROPAGATION_DELAY: '1s',
      METRICS_SECURE_ADDR: `127.0.0.1:${securePort}`,
      ...env,
    },
    join(controlPlaneInfo().directory, `manager-${name}.log`),
  );
  await manager.start(60_000);
  const stop = async () => {
    await manager.stop();
    await identity.release();
  };
  return { manager, securePort, stop };
}

/** The guarded metrics endpoint of a manager process, with ServiceAccount tokens from the TokenRequest API. */
describe('metrics over HTTPS behind Kubernetes authentication and authorization (METRICS_SECURE_ADDR)', () => {
  const scope = randomBytes(4).toString('hex');
  const role = `kmp-secure-metrics-${scope}`;
  let namespace: string;
  let cleanUp: (() => Promise<void>) | undefined;
  let manager: ManagerProcess;
  let securePort: number;
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    buildManager();
    namespace = await createTestNamespace('kmp-secure-metrics');
    cleanUp = await metricsReaders(namespace, role, { readers: ['prometheus'], others: ['stranger'] });
    ({ manager, securePort, stop } = await startGuardedManager(
      namespace,
      `kmp-secure-metrics-${scope}`,
      'ea',
    ));
  }, 90_000);

  afterAll(async () => {
    await stop?.();
    await cleanUp?.();
  });

  it('serves the metrics to a token allowed to get /metrics, with the webhook’s certificate', async () => {
    const answer = await get(securePort, '/metrics', await serviceAccountToken(namespace, 'prometheus'));
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('# TYPE kmp_leader gauge');
    expect(answer.body).toContain('kubemacpool_pool_size');
    const webhook = await get(manager.port, '/healthz');
    expect(answer.fingerprint).toBe(webhook.fingerprint);
  });

  it('refuses a token without the permission (403), a foreign or missing token (401), saying why', async () => {
    const stranger = await get(securePort, '/metrics', await serviceAccountToken(namespace, 'stranger'));
    expect(stranger.status).toBe(403);
    expect(JSON.parse(stranger.body)).toMatchObject({
      statusCode: 403,
      message: `system:serviceaccount:${namespace}:stranger may not get /metrics`,
    });
    const foreign = await get(securePort, '/metrics', randomBytes(24).toString('base64url'));
    expect(foreign.status).toBe(401);
    expect(JSON.parse(foreign.body).message).toContain('the bearer token was not accepted');
    const anonymous = await get(securePort, '/metrics');
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body).message).toContain('anonymous requests are refused');
    expect(anonymous.body).not.toContain('kmp_leader');
  });

  it('refuses TLS below 1.2 and accepts 1.2', async () => {
    // The client allows TLS 1.0 and 1.1 itself (its own defaults would refuse them before the server could).
    const outcome = (maxVersion: 'TLSv1.1' | 'TLSv1.2') =>
      new Promise<string>((resolve) => {
        const socket = connect({
          host: '127.0.0.1',
          port: securePort,
          minVersion: 'TLSv1',
          maxVersion,
          ciphers: 'DEFAULT@SECLEVEL=0',
          rejectUnauthorized: false,
        });
        socket.on('secureConnect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (error) => resolve(error.message));
      });
    expect(await outcome('TLSv1.1')).toMatch(/protocol version|alert/i);
    expect(await outcome('TLSv1.2')).toBe('connected');
  });
});

/** Whether this Node.js's OpenSSL has the post-quantum hybrid group (OpenSSL 3.5 and later: Node.js 24). */
function hasMlKem(): boolean {
  try {
    createSecureContext({ ecdhCurve: 'X25519MLKEM768' });
    return true;
  } catch {
    return false;
  }
}

/** A TLS 1.3 handshake offering only `group`; resolves 'connected' or the error. */
function handshake(port: number, group: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      minVersion: 'TLSv1.3',
      ecdhCurve: group,
      rejectUnauthorized: false,
    });
    socket.on('secureConnect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (error) => resolve(error.message));
  });
}

describe('the post-quantum key exchange X25519MLKEM768 on the webhook and guarded metrics servers', () => {
  const scope = randomBytes(4).toString('hex');
  let manager: ManagerProcess;
  let securePort: number;
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    buildManager();
    const namespace = await createTestNamespace('kmp-pq-tls');
    ({ manager, securePort, stop } = await startGuardedManager(namespace, `kmp-pq-tls-${scope}`, 'eb', {
      // What the network add-ons operator passes for its TLS profiles.
      TLS_GROUP_PREFERENCES: 'X25519MLKEM768,X25519',
    }));
  }, 90_000);

  afterAll(() => stop?.());

  it('completes a handshake offering only X25519MLKEM768 where OpenSSL has it; elsewhere leaves it out, saying so', async () => {
    if (hasMlKem()) {
      expect(await handshake(manager.port, 'X25519MLKEM768')).toBe('connected');
      expect(await handshake(securePort, 'X25519MLKEM768')).toBe('connected');
    } else {
      expect(
        logRecords(manager.logPath).some((record) =>
          /X25519MLKEM768 not supported by this Node\.js \(OpenSSL 3\.\d+\.\d+\), left out/.test(
            String(record.message),
          ),
        ),
      ).toBe(true);
    }
    // The other group configured is served either way.
    expect(await handshake(manager.port, 'X25519')).toBe('connected');
    expect(await handshake(securePort, 'X25519')).toBe('connected');
    // A group that is not configured is refused: the servers use the configured list, not OpenSSL's defaults.
    expect(await handshake(securePort, 'P-256')).not.toBe('connected');
  });
});
