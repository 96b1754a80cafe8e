import { type V1MutatingWebhookConfiguration, type V1Secret } from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { upstreamCa, upstreamServingCertificate } from '../../../test/fixtures/upstream-certificates';
import { AppConfig } from '../../config/app-config';
import { CertificateManagerService } from './certificate-manager.service';
import { type CertificateRepository } from './certificate.repository';
import { CertificatesException, CertificatesExceptionCode } from './certificates.exception';
import { type CertificateSpec, type CertifiedKey, type KeyPairPem, X509Repository } from './x509.repository';

const NAMESPACE = 'kmp';
const CONFIGURATION = 'kubemacpool-mutator';
const CA_SECRET = `${CONFIGURATION}-ca`;
const SERVING_SECRET = 'kubemacpool-service';
const config = AppConfig.fromEnvironment({
  RANGE_START: '02:00:00:00:00:00',
  RANGE_END: '02:00:00:00:ff:ff',
  POD_NAMESPACE: NAMESPACE,
  WEBHOOK_CONFIGURATION_NAME: CONFIGURATION,
  WEBHOOK_EXTRA_IP_ADDRESSES: '127.0.0.1',
  CA_PROPAGATION_DELAY: '10s',
});

/** The API as the manager sees it, in memory: every write bumps a resourceVersion and is counted per object. */
class MemoryRepository {
  readonly secrets = new Map<string, V1Secret>();
  readonly writes = new Map<string, number>();
  configuration: V1MutatingWebhookConfiguration | undefined;
  private version = 1;

  private stamp<T extends { metadata?: { resourceVersion?: string } }>(name: string, body: T): T {
    this.writes.set(name, (this.writes.get(name) ?? 0) + 1);
    return structuredClone({
      ...body,
      metadata: { ...body.metadata, resourceVersion: String(++this.version) },
    });
  }

  async readSecret(_namespace: string, name: string) {
    const secret = this.secrets.get(name);
    return secret === undefined ? undefined : structuredClone(secret);
  }

  async writeSecret(_namespace: string, body: V1Secret) {
    const name = body.metadata!.name!;
    if (body.metadata?.resourceVersion !== this.secrets.get(name)?.metadata?.resourceVersion)
      throw Object.assign(new Error('conflict'), { code: 409 });
    const stored = this.stamp(name, body);
    this.secrets.set(name, stored);
    return structuredClone(stored);
  }

  async deleteSecret(_namespace: string, name: string) {
    this.secrets.delete(name);
  }

  async readWebhookConfiguration() {
    return structuredClone(this.configuration);
  }

  async replaceWebhookConfiguration(body: V1MutatingWebhookConfiguration) {
    this.configuration = this.stamp('configuration', body);
    return structuredClone(this.configuration);
  }

  /** Material as another issuer left it: not written by the manager, so not counted. */
  seed(name: string, type: string, data: Record<string, string>): void {
    this.secrets.set(name, {
      metadata: { name, namespace: NAMESPACE, resourceVersion: String(++this.version) },
      type,
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    });
  }
}

function manager(repository: MemoryRepository, x509: X509Repository) {
  return new CertificateManagerService(repository as unknown as CertificateRepository, x509, config);
}

function secretPem(repository: MemoryRepository, name: string, key: string): string {
  return Buffer.from(repository.secrets.get(name)!.data![key], 'base64').toString('utf8');
}

const x509 = new X509Repository();
let keys: KeyPairPem[];
beforeAll(async () => {
  keys = await Promise.all([1, 2, 3].map(() => x509.generateRsaKeyPair()));
});

describe('CertificateManagerService', () => {
  const now = Date.now();

  function upstreamMaterial(repository: MemoryRepository) {
    const ca = upstreamCa(keys[0], {
      commonName: CONFIGURATION,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 365 * 86_400_000),
    });
    const leaf = upstreamServingCertificate(
      keys[1],
      ca,
      { name: SERVING_SECRET, namespace: NAMESPACE },
      new Date(now + 180 * 86_400_000),
    );
    repository.seed(CA_SECRET, 'Opaque', { 'ca.crt': ca.certificatePem, 'ca.key': ca.privateKeyPem });
    repository.seed(SERVING_SECRET, 'kubernetes.io/tls', {
      'tls.crt': leaf.certificatePem,
      'tls.key': leaf.privateKeyPem,
    });
    repository.configuration = {
      metadata: { name: CONFIGURATION, resourceVersion: '1' },
      webhooks: [
        {
          name: 'mutatepods.kubemacpool.io',
          clientConfig: { caBundle: Buffer.from(ca.certificatePem).toString('base64') },
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
        },
      ],
    };
    return ca;
  }

  it("adopts upstream's CA and settles after one new serving certificate, counting every write", async () => {
    const repository = new MemoryRepository();
    const ca = upstreamMaterial(repository);
    const service = manager(repository, x509);
    // The CA is adopted and its publication time recorded; the serving certificate waits for propagation.
    expect((await service.reconcile(now)).wrote).toBe(true);
    const waiting = await service.reconcile(now);
    expect(waiting).toEqual({ wrote: false, nextCheckAt: now + 10_000 });
    expect((await service.reconcile(waiting.nextCheckAt)).wrote).toBe(true);
    for (let pass = 0; pass < 3; pass++)
      expect((await service.reconcile(waiting.nextCheckAt)).wrote).toBe(false);
    expect(Object.fromEntries(repository.writes)).toEqual({ [CA_SECRET]: 1, [SERVING_SECRET]: 1 });
    expect(secretPem(repository, CA_SECRET, 'ca.crt')).toBe(ca.certificatePem);
    const leaf = new X509Certificate(secretPem(repository, SERVING_SECRET, 'tls.crt'));
    expect(leaf.checkIssued(new X509Certificate(ca.certificatePem))).toBe(true);
    expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
  });

  it('refuses to write a serving certificate that fails its own check, instead of re-issuing it for ever', async () => {
    /** Signs serving certificates with a key that is not the CA's: none of them verifies. */
    class ForgingX509 extends X509Repository {
      override signCertificate(spec: CertificateSpec, subject: KeyPairPem, issuer?: CertifiedKey): string {
        if (issuer === undefined) return super.signCertificate(spec, subject);
        return super.signCertificate(spec, subject, { ...issuer, privateKeyPem: keys[2].privateKeyPem });
      }
    }
    const repository = new MemoryRepository();
    upstreamMaterial(repository);
    const service = manager(repository, new ForgingX509());
    await service.reconcile(now);
    const attempt = service.reconcile(now + 10_000);
    await expect(attempt).rejects.toBeInstanceOf(CertificatesException);
    await expect(attempt).rejects.toMatchObject({
      code: CertificatesExceptionCode.ISSUED_CERTIFICATE_REJECTED,
    });
    expect(repository.writes.get(SERVING_SECRET)).toBeUndefined();
  });
});
