import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { serviceAccountToken } from '../support/chart-identity';
import { controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { metricsReaders } from '../support/metrics-readers';
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

/** The guarded metrics endpoint of a manager process, with ServiceAccount tokens from the TokenRequest API. */
describe('metrics over HTTPS behind Kubernetes authentication and authorization (METRICS_SECURE_ADDR)', () => {
  const scope = randomBytes(4).toString('hex');
  const role = `kmp-secure-metrics-${scope}`;
  let namespace: string;
  let cleanUp: (() => Promise<void>) | undefined;
  let manager: ManagerProcess;
  let securePort: number;

  beforeAll(async () => {
    buildManager();
    namespace = await createTestNamespace('kmp-secure-metrics');
    cleanUp = await metricsReaders(namespace, role, { readers: ['prometheus'], others: ['stranger'] });
    securePort = await freeLoopbackPort();
    manager = await ManagerProcess.create(
      {
        KUBECONFIG: controlPlaneInfo().kubeconfigPath,
        POD_NAMESPACE: namespace,
        WEBHOOK_CONFIGURATION_NAME: `kmp-secure-metrics-${scope}`,
        RANGE_START: '02:ea:00:00:00:00',
        RANGE_END: '02:ea:00:00:ff:ff',
        CA_PROPAGATION_DELAY: '1s',
        METRICS_SECURE_ADDR: `127.0.0.1:${securePort}`,
      },
      join(controlPlaneInfo().directory, `manager-secure-metrics-${scope}.log`),
    );
    await manager.start(60_000);
  }, 90_000);

  afterAll(async () => {
    await manager?.stop();
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

  it('refuses TLS below 1.2', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port: securePort,
        maxVersion: 'TLSv1.1',
        rejectUnauthorized: false,
      });
      socket.on('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (error) => resolve(error.message));
    });
    expect(outcome).not.toBe('connected');
  });
});
