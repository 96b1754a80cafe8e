import { X509Certificate, createPrivateKey } from 'node:crypto';
import { type AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { placeholderCertificate } from './placeholder-certificate';

describe('placeholderCertificate', () => {
  const notBefore = new Date('2026-01-02T03:04:05Z');
  const notAfter = new Date('2026-01-03T03:04:05Z');

  it('is a self-signed X.509 certificate OpenSSL parses, with the subject and validity asked for', () => {
    const { cert, key } = placeholderCertificate('kubemacpool-placeholder', notBefore, notAfter);
    const x509 = new X509Certificate(cert);
    expect(x509.subject).toBe('CN=kubemacpool-placeholder');
    expect(x509.issuer).toBe('CN=kubemacpool-placeholder');
    expect(new Date(x509.validFrom).toISOString()).toBe(notBefore.toISOString());
    expect(new Date(x509.validTo).toISOString()).toBe(notAfter.toISOString());
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.checkPrivateKey(createPrivateKey(key))).toBe(true);
  });

  it('is served by a TLS server a client can complete a handshake with', async () => {
    const now = Date.now();
    const material = placeholderCertificate('placeholder', new Date(now - 60_000), new Date(now + 60_000));
    const server = createServer(material, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const presented = await new Promise<string>((resolve, reject) => {
        const socket = connect(
          { host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false },
          () => {
            resolve(socket.getPeerX509Certificate()?.subject ?? '');
            socket.end();
          },
        );
        socket.on('error', reject);
      });
      expect(presented).toBe('CN=placeholder');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
