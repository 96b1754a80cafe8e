import Fastify, { type FastifyInstance } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { Agent, request } from 'node:https';
import { type AddressInfo } from 'node:net';
import { type Server as TlsServer, connect } from 'node:tls';
import { Counter } from 'prom-client';
import { ReadinessService } from '../health/readiness.service';
import { AppConfig, webhookTlsOptions } from '../../config/app-config';
import { CertificateExpiryService } from './certificate-expiry.service';
import { ServingCertificateService } from './serving-certificate.service';
import { type CertifiedKey, X509Repository } from './x509.repository';

const x509 = new X509Repository();

async function selfSigned(commonName: string): Promise<CertifiedKey> {
  const key = await x509.generateRsaKeyPair();
  const now = Date.now();
  const certificatePem = x509.signCertificate(
    { commonName, notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) },
    key,
  );
  return { certificatePem, privateKeyPem: key.privateKeyPem };
}

function secret(pair: CertifiedKey) {
  return {
    data: {
      'tls.crt': Buffer.from(pair.certificatePem).toString('base64'),
      'tls.key': Buffer.from(pair.privateKeyPem).toString('base64'),
    },
  };
}

/** The subject CN the server presents on a fresh handshake. */
function presentedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate() as X509Certificate;
      socket.destroy();
      resolve(raw.subject);
    });
    socket.on('error', reject);
  });
}

describe('ServingCertificateService', () => {
  let fastify: FastifyInstance;
  let port: number;
  let serving: ServingCertificateService;
  let readiness: ReadinessService;
  const failures = new Counter({ name: 'test_reload_failures', help: 'h', registers: [] });
  // TLS 1.3 only: a swap that dropped the server's TLS options would let TLS 1.2 in again.
  const config = AppConfig.fromEnvironment({
    RANGE_START: '02:00:00:00:00:00',
    RANGE_END: '02:00:00:00:ff:ff',
    TLS_MIN_VERSION: 'VersionTLS13',
  });
  const expiry = new CertificateExpiryService(config);
  let a: CertifiedKey;
  let b: CertifiedKey;

  beforeAll(async () => {
    const placeholder = await selfSigned('placeholder');
    [a, b] = await Promise.all([selfSigned('cert-a'), selfSigned('cert-b')]);
    fastify = Fastify({
      https: {
        key: placeholder.privateKeyPem,
        cert: placeholder.certificatePem,
        ...webhookTlsOptions(config.webhook),
      },
    });
    fastify.get('/', async () => 'ok');
    readiness = new ReadinessService();
    serving = new ServingCertificateService(config, readiness, expiry, failures);
    serving.attach(fastify.server as unknown as TlsServer, fastify);
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    port = (fastify.server.address() as AddressInfo).port;
  });

  afterAll(() => fastify.close());

  it('is not ready until a certificate was loaded', () => {
    expect(readiness.problems()).toEqual(['serving certificate: not loaded from its Secret yet']);
    expect(serving.apply(undefined)).toBe(false);
  });

  it('swaps certificates into the running server without a restart', async () => {
    expect(await presentedName(port)).toBe('CN=placeholder');
    expect(serving.apply(secret(a))).toBe(true);
    expect(await presentedName(port)).toBe('CN=cert-a');
    expect(readiness.problems()).toEqual([]);
    expect(serving.fingerprint).toBe(new X509Certificate(a.certificatePem).fingerprint256);
    expect(expiry.servingNotAfter).toBe(Date.parse(new X509Certificate(a.certificatePem).validTo));
    expect(serving.apply(secret(b))).toBe(true);
    expect(await presentedName(port)).toBe('CN=cert-b');
  });

  it('keeps the current certificate, logs and counts when key and certificate do not match', async () => {
    const before = (await failures.get()).values[0]?.value ?? 0;
    expect(serving.apply(secret({ certificatePem: a.certificatePem, privateKeyPem: b.privateKeyPem }))).toBe(
      false,
    );
    expect(serving.apply({ data: { 'tls.crt': Buffer.from('junk').toString('base64') } })).toBe(false);
    expect((await failures.get()).values[0]?.value).toBe(before + 2);
    expect(expiry.servingNotAfter).toBe(Date.parse(new X509Certificate(b.certificatePem).validTo));
    expect(await presentedName(port)).toBe('CN=cert-b');
  });

  it('asks keep-alive connections from before a swap to reconnect, and only those', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    const get = () =>
      new Promise<{ connection?: string; socket: unknown }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ connection: res.headers.connection, socket: req.socket }));
        });
        req.on('error', reject);
        req.end();
      });
    const first = await get();
    expect(first.connection).toBe('keep-alive');
    expect(serving.apply(secret(a))).toBe(true);
    const second = await get();
    expect(second.socket).toBe(first.socket);
    expect(second.connection).toBe('close');
    const third = await get();
    expect(third.socket).not.toBe(first.socket);
    expect(third.connection).toBe('keep-alive');
    agent.destroy();
  });

  it('keeps the minimum TLS version across swaps (setSecureContext alone would reset it)', async () => {
    const handshake = (maxVersion: 'TLSv1.2' | 'TLSv1.3') =>
      new Promise<string>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, maxVersion, rejectUnauthorized: false }, () => {
          const version = socket.getProtocol() ?? 'unknown';
          socket.destroy();
          resolve(version);
        });
        socket.on('error', () => resolve('refused'));
      });
    // Two swaps, whichever was current before.
    expect(serving.apply(secret(b))).toBe(true);
    expect(serving.apply(secret(a))).toBe(true);
    expect(await handshake('TLSv1.2')).toBe('refused');
    expect(await handshake('TLSv1.3')).toBe('TLSv1.3');
  });
});
