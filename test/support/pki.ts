import { randomBytes } from 'node:crypto';
import {
  type CertifiedKey,
  type KeyPairPem,
  X509Repository,
} from '../../src/modules/certificates/x509.repository';

const x509 = new X509Repository();

const DAY_MS = 24 * 60 * 60 * 1000;

/** Throwaway credentials for one test control plane. */
export interface ControlPlanePki {
  ca: CertifiedKey;
  /** The kube-apiserver's serving certificate: SANs 127.0.0.1, ::1, localhost. */
  apiserver: CertifiedKey;
  /** Signs and verifies service-account tokens. */
  serviceAccountKey: KeyPairPem;
  /** Bearer token of the `system:masters` admin user. */
  adminToken: string;
}

export async function createControlPlanePki(): Promise<ControlPlanePki> {
  const [caKey, servingKey, serviceAccountKey] = await Promise.all([
    x509.generateRsaKeyPair(),
    x509.generateRsaKeyPair(),
    x509.generateRsaKeyPair(),
  ]);
  const notBefore = new Date(Date.now() - 5 * 60 * 1000);
  const notAfter = new Date(Date.now() + 7 * DAY_MS);
  const ca: CertifiedKey = {
    certificatePem: x509.signCertificate(
      { commonName: 'kubemacpool-test-ca', isCa: true, notBefore, notAfter },
      caKey,
    ),
    privateKeyPem: caKey.privateKeyPem,
  };
  const apiserver: CertifiedKey = {
    certificatePem: x509.signCertificate(
      {
        commonName: 'kube-apiserver',
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
        ipAddresses: ['127.0.0.1', '::1', '10.0.0.1'],
        usages: ['serverAuth'],
        notBefore,
        notAfter,
      },
      servingKey,
      ca,
    ),
    privateKeyPem: servingKey.privateKeyPem,
  };
  return { ca, apiserver, serviceAccountKey, adminToken: randomBytes(24).toString('hex') };
}
