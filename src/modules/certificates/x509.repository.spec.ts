import { X509Certificate } from 'node:crypto';
import { upstreamCa } from '../../../test/fixtures/upstream-certificates';
import { X509Repository } from './x509.repository';

const x509 = new X509Repository();

describe('x509', () => {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3_600_000);

  it('builds a self-signed CA and a leaf it signs, with SANs the leaf verifies against', async () => {
    const [caKey, leafKey] = await Promise.all([x509.generateRsaKeyPair(), x509.generateRsaKeyPair()]);
    const caPem = x509.signCertificate(
      { commonName: 'kubemacpool-mutator', isCa: true, notBefore, notAfter },
      caKey,
    );
    const leafPem = x509.signCertificate(
      {
        commonName: 'kubemacpool-service',
        dnsNames: ['kubemacpool-service', 'kubemacpool-service.ns.svc'],
        ipAddresses: ['127.0.0.1'],
        notBefore,
        notAfter,
      },
      leafKey,
      { certificatePem: caPem, privateKeyPem: caKey.privateKeyPem },
    );
    const ca = new X509Certificate(caPem);
    const leaf = new X509Certificate(leafPem);
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.subjectAltName).toBe(
      'DNS:kubemacpool-service, DNS:kubemacpool-service.ns.svc, IP Address:127.0.0.1',
    );
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(leaf.validTo).getTime()).toBeCloseTo(notAfter.getTime(), -4);
  });

  it("names the issuer by the issuer's own subjectKeyIdentifier, however it was computed", async () => {
    const [caKey, leafKey] = await Promise.all([x509.generateRsaKeyPair(), x509.generateRsaKeyPair()]);
    // Go 1.25+ derives the identifier from SHA-256, forge from SHA-1: they differ for the same key.
    const ca = upstreamCa(caKey, { commonName: 'kubemacpool-mutator', notBefore, notAfter });
    const leafPem = x509.signCertificate(
      { commonName: 'kubemacpool-service', dnsNames: ['kubemacpool-service'], notBefore, notAfter },
      leafKey,
      ca,
    );
    const issuer = new X509Certificate(ca.certificatePem);
    const leaf = new X509Certificate(leafPem);
    expect(leaf.verify(issuer.publicKey)).toBe(true);
    expect(leaf.checkIssued(issuer)).toBe(true);
  });

  it('marks client certificates for client authentication', async () => {
    const key = await x509.generateRsaKeyPair();
    const pem = x509.signCertificate(
      { commonName: 'admin', organization: 'system:masters', usages: ['clientAuth'], notBefore, notAfter },
      key,
    );
    const certificate = new X509Certificate(pem);
    expect(certificate.subject).toBe('CN=admin\nO=system:masters');
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it('gives every certificate a distinct positive serial number', async () => {
    const key = await x509.generateRsaKeyPair();
    const serials = new Set(
      [1, 2, 3].map(
        (i) =>
          new X509Certificate(x509.signCertificate({ commonName: `c${i}`, notBefore, notAfter }, key))
            .serialNumber,
      ),
    );
    expect(serials.size).toBe(3);
    for (const serial of serials) expect(parseInt(serial.slice(0, 1), 16)).toBeLessThan(8);
  });
});
