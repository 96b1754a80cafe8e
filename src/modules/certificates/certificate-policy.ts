import { type CertificateSettings } from '../../config/app-config';
import { MAX_BUNDLE_CERTIFICATES } from './certificates.constants';
import {
  type ParsedCertificate,
  canonicalIp,
  issuedBy,
  keyMatches,
  parseCertificates,
  subjectAltNames,
} from './certificate-material';

/** The PEM contents of a Secret the certificates module manages. */
export interface KeyPairData {
  certificatePem?: string;
  privateKeyPem?: string;
}

/** The CA in its Secret, if usable, and why not otherwise. */
export type CaAssessment =
  { ca: ParsedCertificate; problem?: undefined } | { ca?: undefined; problem: string };

/** Why and when a new CA is due. `rotateAt` is in epoch ms; at or before `now` means now. */
export interface CaDecision {
  rotate: boolean;
  reason: string;
  rotateAt: number;
}

export interface ServingDecision {
  /** Issue a new serving certificate from the current CA now. */
  issue: boolean;
  reason: string;
  /** When to look again (epoch ms). */
  nextCheckAt: number;
}

/** The names the serving certificate must carry: the Service's DNS names plus configured extras. */
export function servingNames(
  namespace: string,
  serviceName: string,
  extraDnsNames: readonly string[],
  extraIpAddresses: readonly string[],
): { dnsNames: string[]; ipAddresses: string[] } {
  const service = [serviceName, `${serviceName}.${namespace}`, `${serviceName}.${namespace}.svc`];
  return {
    dnsNames: [...new Set([...service, `${serviceName}.${namespace}.svc.cluster.local`, ...extraDnsNames])],
    ipAddresses: [...new Set(extraIpAddresses)],
  };
}

/**
 * Checks the CA Secret's contents: present, parsable, a CA (X509Certificate.ca also requires keyCertSign when the
 * certificate has a key usage), an RSA key (the only kind the signer uses), with its own key, not expired. A CA
 * another issuer made is adopted when it passes; one that fails is replaced, never worked around.
 */
export function assessCa(data: KeyPairData | undefined, now: number): CaAssessment {
  if (data?.certificatePem === undefined) return { problem: 'the CA Secret is missing' };
  const [ca] = parseCertificates(data.certificatePem);
  if (ca === undefined) return { problem: 'ca.crt holds no parsable certificate' };
  if (!ca.x509.ca) return { problem: 'ca.crt is not a CA certificate' };
  const keyType = ca.x509.publicKey.asymmetricKeyType;
  if (keyType !== 'rsa') return { problem: `the CA key is ${keyType ?? 'of an unknown type'}, not RSA` };
  if (!keyMatches(ca, data.privateKeyPem)) return { problem: 'ca.key does not match ca.crt' };
  if (ca.notAfter <= now) return { problem: `the CA expired at ${new Date(ca.notAfter).toISOString()}` };
  return { ca };
}

/**
 * Whether to make a new CA: only when the CA itself is unusable, or at the start of its overlap window. What the
 * caBundles hold does not matter here: a bundle that was emptied or replaced (helm upgrade and GitOps tools reset
 * the field) is healed by putting the CA back in, and the serving certificate it signed stays valid, so rotating
 * would only churn every replica's certificate for nothing.
 */
export function decideCa(assessment: CaAssessment, settings: CertificateSettings, now: number): CaDecision {
  if (assessment.ca === undefined) return { rotate: true, reason: assessment.problem, rotateAt: now };
  const rotateAt = assessment.ca.notAfter - settings.caOverlapMs;
  return { rotate: rotateAt <= now, reason: 'the CA enters its overlap window', rotateAt };
}

/** What is wrong with the serving Secret for the current CA and names; undefined when nothing is. */
export function servingProblem(
  data: KeyPairData | undefined,
  ca: ParsedCertificate,
  names: { dnsNames: readonly string[]; ipAddresses: readonly string[] },
  now: number,
): string | undefined {
  if (data?.certificatePem === undefined) return 'the serving Secret is missing';
  const [leaf] = parseCertificates(data.certificatePem);
  if (leaf === undefined) return 'tls.crt holds no parsable certificate';
  if (!keyMatches(leaf, data.privateKeyPem)) return 'tls.key does not match tls.crt';
  if (leaf.notAfter <= now)
    return `the serving certificate expired at ${new Date(leaf.notAfter).toISOString()}`;
  const sans = subjectAltNames(leaf);
  const missing = [
    ...names.dnsNames.filter((name) => !sans.dnsNames.includes(name)),
    ...names.ipAddresses.filter((ip) => !sans.ipAddresses.includes(canonicalIp(ip))),
  ];
  if (missing.length > 0) return `the serving certificate lacks ${missing.join(', ')}`;
  if (!issuedBy(leaf, ca)) return 'the serving certificate was not signed by the current CA';
  return undefined;
}

/**
 * Whether to serve a new certificate from the current CA: at once when the Secret's certificate is unusable for
 * the current CA and names, else at the start of its overlap window. A certificate signed by a CA is served only
 * once that CA has stood in every caBundle for the propagation delay (`caPublishedAt`; 0 when no webhook
 * configuration exists to wait for), so no API server meets a certificate it cannot verify yet; replicas keep
 * serving the previous certificate meanwhile.
 */
export function decideServing(
  data: KeyPairData | undefined,
  ca: ParsedCertificate,
  caPublishedAt: number | undefined,
  names: { dnsNames: readonly string[]; ipAddresses: readonly string[] },
  settings: CertificateSettings,
  now: number,
): ServingDecision {
  const servableAt = caPublishedAt === undefined ? Infinity : caPublishedAt + settings.propagationDelayMs;
  const problem = servingProblem(data, ca, names, now);
  let reason: string;
  let dueAt: number;
  if (problem !== undefined) {
    reason = problem;
    dueAt = now;
  } else {
    reason = 'the serving certificate enters its overlap window';
    dueAt = parseCertificates(data?.certificatePem)[0].notAfter - settings.certOverlapMs;
  }
  const issueAt = Math.max(dueAt, servableAt);
  return { issue: issueAt <= now, reason, nextCheckAt: issueAt };
}

/** Validity of a new serving certificate: from now (backdated for skew) until its rotation, never past the CA. */
export function servingValidity(
  ca: ParsedCertificate,
  settings: CertificateSettings,
  now: number,
  skewMs: number,
): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: new Date(Math.max(now - skewMs, ca.notBefore)),
    notAfter: new Date(Math.min(now + settings.certRotateMs, ca.notAfter)),
  };
}

/**
 * A caBundle with `ca` first, then the other certificates still valid, without duplicates, at most
 * MAX_BUNDLE_CERTIFICATES (upstream's cap); expired and unparsable entries are dropped.
 */
export function mergeBundle(
  ca: ParsedCertificate,
  current: readonly ParsedCertificate[],
  now: number,
): ParsedCertificate[] {
  const merged = [ca];
  for (const certificate of current) {
    if (certificate.notAfter <= now) continue;
    if (merged.some((kept) => kept.fingerprint === certificate.fingerprint)) continue;
    merged.push(certificate);
  }
  return merged.slice(0, MAX_BUNDLE_CERTIFICATES);
}

/** The earliest moment a certificate of these bundles expires (a cleanup is due then), or Infinity. */
export function earliestExpiry(bundles: readonly (readonly ParsedCertificate[])[]): number {
  let earliest = Infinity;
  for (const bundle of bundles)
    for (const certificate of bundle) earliest = Math.min(earliest, certificate.notAfter);
  return earliest;
}
