import { AppConfig } from '../../config/app-config';
import { CertificateExpiryService } from './certificate-expiry.service';
import { X509Repository } from './x509.repository';

const config = AppConfig.fromEnvironment({
  RANGE_START: '02:00:00:00:00:00',
  RANGE_END: '02:00:00:00:ff:ff',
  CA_OVERLAP_INTERVAL: '48h',
  CERT_OVERLAP_INTERVAL: '12h',
});
const HOUR = 3_600_000;

describe('CertificateExpiryService', () => {
  it('reads the CA not-after from the CA Secret, and forgets it when the Secret is gone or unreadable', async () => {
    const x509 = new X509Repository();
    const key = await x509.generateRsaKeyPair();
    const notAfter = new Date('2031-05-06T07:08:09Z');
    const pem = x509.signCertificate(
      { commonName: 'ca', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter },
      key,
    );
    const expiry = new CertificateExpiryService(config);
    expect(expiry.caNotAfter).toBeUndefined();
    expiry.observeCaSecret({ data: { 'ca.crt': Buffer.from(pem).toString('base64') } });
    expect(expiry.caNotAfter).toBe(notAfter.getTime());
    expect(expiry.caRenewalDue).toBe(notAfter.getTime() - 48 * HOUR);
    expiry.observeCaSecret({ data: { 'ca.crt': Buffer.from('junk').toString('base64') } });
    expect(expiry.caNotAfter).toBeUndefined();
    expect(expiry.caRenewalDue).toBeUndefined();
    expiry.observeCaSecret({ data: { 'ca.crt': Buffer.from(pem).toString('base64') } });
    expiry.observeCaSecret(undefined);
    expect(expiry.caNotAfter).toBeUndefined();
  });

  it('keeps the not-after of the certificate being served, and when its renewal is due', () => {
    const expiry = new CertificateExpiryService(config);
    expect(expiry.servingRenewalDue).toBeUndefined();
    expiry.observeServing(1_900_000_000_000);
    expect(expiry.servingNotAfter).toBe(1_900_000_000_000);
    expect(expiry.servingRenewalDue).toBe(1_900_000_000_000 - 12 * HOUR);
  });
});
