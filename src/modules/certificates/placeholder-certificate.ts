import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/** ecdsa-with-SHA256 (1.2.840.10045.4.3.2) and commonName (2.5.4.3), DER-encoded object identifiers. */
const ECDSA_WITH_SHA256 = Buffer.from('2a8648ce3d040302', 'hex');
const COMMON_NAME = Buffer.from('550403', 'hex');

/** One DER element: tag, definite length, contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, body]);
}

const sequence = (...contents: Buffer[]) => der(0x30, ...contents);

function name(commonName: string): Buffer {
  return sequence(der(0x31, sequence(der(0x06, COMMON_NAME), der(0x0c, Buffer.from(commonName, 'utf8')))));
}

/** UTCTime, YYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.1: dates through 2049). */
function utcTime(date: Date): Buffer {
  return der(0x17, Buffer.from(date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z', 'ascii'));
}

/**
 * A self-signed ECDSA P-256 certificate, built with node:crypto alone: the throwaway certificate the HTTPS server
 * starts with until the real serving certificate is loaded. Nothing trusts it and nothing needs its extensions, so
 * it is the bare X.509 v3 structure (RFC 5280 §4.1); it costs a millisecond, where an RSA key and node-forge
 * would cost a hundred and the loading of node-forge at every start.
 */
export function placeholderCertificate(
  commonName: string,
  notBefore: Date,
  notAfter: Date,
): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40; // positive and minimally encoded
  const algorithm = sequence(der(0x06, ECDSA_WITH_SHA256));
  const tbs = sequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, serial),
    algorithm,
    name(commonName),
    sequence(utcTime(notBefore), utcTime(notAfter)),
    name(commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const certificate = sequence(tbs, algorithm, der(0x03, Buffer.from([0]), signature));
  const base64 = certificate.toString('base64').replace(/.{64}/g, '$&\n').trimEnd();
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert: `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`,
  };
}
