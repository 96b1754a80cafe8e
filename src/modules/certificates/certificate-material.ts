import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIPv6 } from 'node:net';

/** One parsed X.509 certificate with the facts the rotation rules need. */
export interface ParsedCertificate {
  pem: string;
  x509: X509Certificate;
  notBefore: number;
  notAfter: number;
  fingerprint: string;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every parsable certificate of a PEM bundle, in order; blocks that do not parse are left out. */
export function parseCertificates(bundle: string | undefined): ParsedCertificate[] {
  if (bundle === undefined) return [];
  const parsed: ParsedCertificate[] = [];
  for (const block of bundle.match(PEM_BLOCK) ?? []) {
    try {
      const x509 = new X509Certificate(block);
      parsed.push({
        pem: `${block}\n`,
        x509,
        notBefore: Date.parse(x509.validFrom),
        notAfter: Date.parse(x509.validTo),
        fingerprint: x509.fingerprint256,
      });
    } catch {
      // Not a certificate: dropped, as a bundle or chain cleanup should.
    }
  }
  return parsed;
}

/** True when `keyPem` is the private key of `certificate`. */
export function keyMatches(certificate: ParsedCertificate, keyPem: string | undefined): boolean {
  if (keyPem === undefined) return false;
  try {
    return certificate.x509.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

/** True when `issuer` signed `certificate`. */
export function issuedBy(certificate: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    return certificate.x509.checkIssued(issuer.x509) && certificate.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

/** DNS names and IP addresses in the certificate's subjectAltName. */
export function subjectAltNames(certificate: ParsedCertificate): {
  dnsNames: string[];
  ipAddresses: string[];
} {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const entry of (certificate.x509.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) dnsNames.push(entry.slice(4));
    else if (entry.startsWith('IP Address:')) ipAddresses.push(canonicalIp(entry.slice(11)));
  }
  return { dnsNames, ipAddresses };
}

/** The bundle in PEM, newest first. */
export function toPem(certificates: readonly ParsedCertificate[]): string {
  return certificates.map((c) => c.pem).join('');
}

/** IPv6 addresses in the full, zero-stripped, lowercase form X509Certificate prints (`::1` → `0:0:0:0:0:0:0:1`). */
export function canonicalIp(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const [head, tail] = ip.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => group.replace(/^0+(?=.)/, '')).join(':');
}
