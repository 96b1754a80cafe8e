import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { buildManager } from '../support/manager-process';
import { httpsGet } from '../support/https-get';
import { freeLoopbackPort } from '../support/ports';
import { startScopedManager } from '../support/scoped-manager';

/** Below jest's 60 s per test, so a manager that never gets ready fails with its own message and log path. */
const START_TIMEOUT_MS = 40_000;

/** What a TLS client limited to `options` gets from the manager: the protocol and cipher, or `refused`. */
function handshake(
  port: number,
  options: { maxVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string; ecdhCurve?: string },
) {
  return new Promise<string>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const result = `${socket.getProtocol()} ${socket.getCipher().standardName}`;
      socket.destroy();
      resolve(result);
    });
    socket.on('error', () => resolve('refused'));
  });
}

/** The manager as its own process with `args` after the script, flags winning over METRICS_SECURE_ADDR. */
function startWith(args: (ports: { webhook: number; metrics: number }) => string[]) {
  return startScopedManager(
    'flags',
    // Flags win: were the environment used, the guarded metrics would be on a port nobody reads.
    { RANGE_START: '02:f1:00:00:00:00', RANGE_END: '02:f1:00:00:ff:ff', METRICS_SECURE_ADDR: '127.0.0.1:9' },
    { args },
  );
}

describe("upstream's command-line flags, on the manager process", () => {
  beforeAll(() => buildManager());

  it("starts and serves with the args of upstream's release Deployment, the TLS flags included", async () => {
    const guardedPort = await freeLoopbackPort();
    const { manager, stop } = await startWith(() => [
      '--v=production',
      '--wait-time=300',
      // Upstream's meaning since v0.51: the metrics over HTTPS behind TokenReview and SubjectAccessReview.
      `--metrics-addr=127.0.0.1:${guardedPort}`,
      '--tls-min-version=VersionTLS12',
      '--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256',
      '--tls-group-preferences=CurveP256,X25519',
    ]);
    try {
      await manager.start(START_TIMEOUT_MS);
      // Ready means the serving certificate from the Secret replaced the placeholder: the TLS settings must hold
      // after that swap, not only for the placeholder.
      expect(await manager.metric('kubemacpool_pool_size')).toBeGreaterThan(0);
      expect((await httpsGet(guardedPort, '/metrics')).status).toBe(401);
      expect(await handshake(manager.port, { maxVersion: 'TLSv1.2' })).toBe(
        'TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      );
      expect(
        await handshake(manager.port, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }),
      ).toBe('refused');
      expect(await handshake(manager.port, {})).toMatch(/^TLSv1\.3 /);
      // The groups hold too: a client with none of them gets no handshake.
      expect(await handshake(manager.port, { ecdhCurve: 'P-384' })).toBe('refused');
      expect(await handshake(manager.port, { ecdhCurve: 'P-256' })).toMatch(/^TLSv1\.3 /);
    } finally {
      await stop();
    }
  });

  it('keeps --tls-min-version=VersionTLS13 after the serving certificate is loaded', async () => {
    const guardedPort = await freeLoopbackPort();
    const { manager, stop } = await startWith(() => [
      `--metrics-addr=127.0.0.1:${guardedPort}`,
      '--tls-min-version=VersionTLS13',
    ]);
    try {
      await manager.start(START_TIMEOUT_MS);
      expect(await handshake(manager.port, { maxVersion: 'TLSv1.2' })).toBe('refused');
      expect(await handshake(manager.port, {})).toMatch(/^TLSv1\.3 /);
    } finally {
      await stop();
    }
  });

  it('refuses to start on an unknown or malformed flag, naming each', async () => {
    const { manager, stop } = await startWith(() => ['--bogus=1', '--wait-time=soon', '--v=production']);
    try {
      await expect(manager.start(START_TIMEOUT_MS)).rejects.toThrow(/the manager exited with 1/);
      const log = readFileSync(manager.logPath, 'utf8');
      expect(log).toContain('--bogus: unknown flag');
      expect(log).toContain('--wait-time=soon: must be');
    } finally {
      await stop();
    }
  });
});
