import { Injectable } from '@nestjs/common';
import { constants, generateKeyPair, privateEncrypt, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type Forge from 'node-forge';
import { CertificatesException, CertificatesExceptionCode } from './certificates.exception';

const generateKeyPairAsync = promisify(generateKeyPair);

let forgeModule: typeof Forge | undefined;

/**
 * node-forge, loaded the first time a certificate is built rather than at every start (it takes ~40 ms and several
 * MiB; a manager whose Secrets are valid never needs it).
 */
function forge(): typeof Forge {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load: a static import loads it at start
  forgeModule ??= require('node-forge') as typeof Forge;
  return forgeModule;
}

/** An RSA key pair in PEM (PKCS#1 private key, SPKI public key). */
export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

/** What a certificate says about its subject. */
export interface CertificateSpec {
  commonName: string;
  organization?: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  isCa?: boolean;
  /** Extended key usages of a leaf certificate; ignored for a CA. */
  usages?: readonly ('serverAuth' | 'clientAuth')[];
  notBefore: Date;
  notAfter: Date;
}

/** A certificate and its key, both PEM: the issuer of another certificate, or what a server serves. */
export interface CertifiedKey {
  certificatePem: string;
  privateKeyPem: string;
}

/**
 * The key and certificate operations of the certificates module: RSA key generation and X.509 signing, the node:crypto
 * work behind the CA and serving certificates. Injectable so services can be tested with it replaced.
 */
@Injectable()
export class X509Repository {
  /**
   * Generates an RSA key on libuv's thread pool. node-forge's own key generation blocks the event loop (it calls
   * generateKeyPairSync), which would stall every admission request for ~100 ms.
   */
  async generateRsaKeyPair(modulusLength = 2048): Promise<KeyPairPem> {
    const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
      modulusLength,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    return { privateKeyPem: privateKey, publicKeyPem: publicKey };
  }

  /**
   * Builds an X.509 certificate for `subject`'s key with node-forge and signs it (SHA-256 with RSA, natively).
   * Without an issuer it is self-signed (a CA). SANs carry DNS names and IP addresses; Go clients such as the
   * kube-apiserver never fall back to the CN. Throws CertificatesException(SIGNING_FAILED) when forge or OpenSSL
   * refuses the keys (a key that is not RSA, for one).
   */
  signCertificate(spec: CertificateSpec, subject: KeyPairPem, issuer?: CertifiedKey): string {
    try {
      return buildCertificate(spec, subject, issuer);
    } catch (error) {
      throw new CertificatesException(
        CertificatesExceptionCode.SIGNING_FAILED,
        `cannot sign a certificate for ${spec.commonName}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
}

function buildCertificate(spec: CertificateSpec, subject: KeyPairPem, issuer?: CertifiedKey): string {
  const certificate = forge().pki.createCertificate();
  certificate.publicKey = forge().pki.publicKeyFromPem(subject.publicKeyPem);
  certificate.serialNumber = randomSerial();
  certificate.validity.notBefore = spec.notBefore;
  certificate.validity.notAfter = spec.notAfter;
  const subjectAttributes: Forge.pki.CertificateField[] = [{ name: 'commonName', value: spec.commonName }];
  if (spec.organization !== undefined)
    subjectAttributes.push({ name: 'organizationName', value: spec.organization });
  certificate.setSubject(subjectAttributes);

  const issuerCertificate =
    issuer === undefined ? undefined : forge().pki.certificateFromPem(issuer.certificatePem);
  certificate.setIssuer(
    issuerCertificate === undefined ? subjectAttributes : issuerCertificate.subject.attributes,
  );

  const extensions: object[] = [
    { name: 'basicConstraints', cA: spec.isCa === true, critical: true },
    spec.isCa === true
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (spec.isCa !== true) {
    const usages = spec.usages ?? ['serverAuth'];
    extensions.push({
      name: 'extKeyUsage',
      serverAuth: usages.includes('serverAuth'),
      clientAuth: usages.includes('clientAuth'),
    });
  }
  const altNames = [
    ...(spec.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(spec.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  if (issuerCertificate !== undefined) {
    extensions.push({
      name: 'authorityKeyIdentifier',
      keyIdentifier: authorityKeyIdentifier(issuerCertificate),
    });
  }
  certificate.setExtensions(extensions);

  certificate.sign(nativeSigner(issuer?.privateKeyPem ?? subject.privateKeyPem), forge().md.sha256.create());
  return forge().pki.certificateToPem(certificate);
}

/** DER DigestInfo header for SHA-256 (RFC 8017 §9.2): prefixed to the hash it is the EMSA-PKCS1-v1_5 payload. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A signer for node-forge's `certificate.sign` that signs natively: forge hands over the SHA-256 digest of the
 * TBSCertificate, and OpenSSL does the RSA (PKCS#1 v1.5) instead of forge's JavaScript big integers, which would
 * block the event loop for tens of milliseconds per signature.
 */
function nativeSigner(privateKeyPem: string): Forge.pki.rsa.PrivateKey {
  return {
    sign: (md: Forge.md.MessageDigest) => {
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const payload = Buffer.concat([SHA256_DIGEST_INFO, digest]);
      return privateEncrypt({ key: privateKeyPem, padding: constants.RSA_PKCS1_PADDING }, payload).toString(
        'binary',
      );
    },
  } as unknown as Forge.pki.rsa.PrivateKey;
}

/** A positive 128-bit serial number in hex (RFC 5280 allows up to 20 octets; the top bit must be clear). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

/**
 * The key identifier a certificate signed by `issuer` names it by: the issuer's own subjectKeyIdentifier. Issuers
 * compute it in different ways (SHA-1 of the key, as forge does; truncated SHA-256, as Go 1.25+ does; or anything
 * else), and OpenSSL only accepts a certificate as issued by a CA whose subjectKeyIdentifier equals the
 * certificate's authorityKeyIdentifier. Recomputing it here would make certificates signed by a CA another tool
 * created unverifiable against that CA. Only an issuer without the extension gets the SHA-1 form (RFC 5280 §4.2.1.2).
 */
function authorityKeyIdentifier(issuer: Forge.pki.Certificate): string {
  const extension = issuer.getExtension('subjectKeyIdentifier') as
    { subjectKeyIdentifier?: string } | undefined;
  return extension?.subjectKeyIdentifier === undefined
    ? issuer.generateSubjectKeyIdentifier().getBytes()
    : forge().util.hexToBytes(extension.subjectKeyIdentifier);
}
