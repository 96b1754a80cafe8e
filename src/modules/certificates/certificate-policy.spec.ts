import { type CertificateSettings } from '../../config/app-config';
import { type ParsedCertificate, canonicalIp, parseCertificates } from './certificate-material';
import {
  assessCa,
  decideCa,
  decideServing,
  earliestExpiry,
  mergeBundle,
  servingNames,
  servingProblem,
  servingValidity,
} from './certificate-policy';
import { type CertifiedKey, type KeyPairPem, generateRsaKeyPair, signCertificate } from './x509';

const HOUR = 3_600_000;
const settings: CertificateSettings = {
  caRotateMs: 100 * HOUR,
  caOverlapMs: 10 * HOUR,
  certRotateMs: 50 * HOUR,
  certOverlapMs: 5 * HOUR,
  propagationDelayMs: 10_000,
};
const NOW = Date.parse('2026-11-29T12:00:00Z');
const names = servingNames('kmp', 'kubemacpool-service', ['localhost'], ['127.0.0.1']);

let keys: KeyPairPem[];
beforeAll(async () => {
  keys = await Promise.all([1, 2, 3, 4].map(() => generateRsaKeyPair()));
});

function makeCa(key: KeyPairPem, from: number, to: number): CertifiedKey & { parsed: ParsedCertificate } {
  const certificatePem = signCertificate(
    { commonName: 'kubemacpool-mutator', isCa: true, notBefore: new Date(from), notAfter: new Date(to) },
    key,
  );
  return { certificatePem, privateKeyPem: key.privateKeyPem, parsed: parseCertificates(certificatePem)[0] };
}

function makeLeaf(key: KeyPairPem, issuer: CertifiedKey, from: number, to: number, dns = names.dnsNames) {
  const certificatePem = signCertificate(
    {
      commonName: 'leaf',
      dnsNames: dns,
      ipAddresses: names.ipAddresses,
      notBefore: new Date(from),
      notAfter: new Date(to),
    },
    key,
    issuer,
  );
  return { certificatePem, privateKeyPem: key.privateKeyPem };
}

describe('certificate policy', () => {
  it('names the Service in every form the API server may dial, plus extras', () => {
    expect(names).toEqual({
      dnsNames: [
        'kubemacpool-service',
        'kubemacpool-service.kmp',
        'kubemacpool-service.kmp.svc',
        'kubemacpool-service.kmp.svc.cluster.local',
        'localhost',
      ],
      ipAddresses: ['127.0.0.1'],
    });
  });

  describe('assessCa', () => {
    it('accepts a valid CA and explains each way one is unusable', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + 50 * HOUR);
      expect(assessCa(ca, NOW).ca?.fingerprint).toBe(ca.parsed.fingerprint);
      expect(assessCa(undefined, NOW).problem).toBe('the CA Secret is missing');
      expect(assessCa({ certificatePem: 'junk', privateKeyPem: ca.privateKeyPem }, NOW).problem).toBe(
        'ca.crt holds no parsable certificate',
      );
      expect(assessCa({ ...ca, privateKeyPem: keys[1].privateKeyPem }, NOW).problem).toBe(
        'ca.key does not match ca.crt',
      );
      expect(assessCa(ca, NOW + 60 * HOUR).problem).toMatch(/^the CA expired at /);
      const leaf = makeLeaf(keys[1], ca, NOW - HOUR, NOW + HOUR);
      expect(assessCa(leaf, NOW).problem).toBe('ca.crt is not a CA certificate');
    });
  });

  describe('decideCa', () => {
    const ca = () => makeCa(keys[0], NOW - HOUR, NOW + 50 * HOUR);

    it('rotates an unusable CA at once', () => {
      expect(decideCa({ problem: 'the CA Secret is missing' }, false, undefined, settings, NOW)).toEqual({
        rotate: true,
        reason: 'the CA Secret is missing',
        rotateAt: NOW,
      });
    });

    it('keeps a valid CA until its overlap window starts', () => {
      const current = ca();
      const decision = decideCa({ ca: current.parsed }, true, [current.parsed], settings, NOW);
      expect(decision.rotate).toBe(false);
      expect(decision.rotateAt).toBe(current.parsed.notAfter - 10 * HOUR);
      expect(
        decideCa({ ca: current.parsed }, true, [current.parsed], settings, decision.rotateAt).rotate,
      ).toBe(true);
    });

    it('rotates a published CA the caBundle no longer starts with (emptied or replaced bundle)', () => {
      const current = ca();
      const other = makeCa(keys[1], NOW - HOUR, NOW + 50 * HOUR);
      expect(decideCa({ ca: current.parsed }, true, [], settings, NOW).rotate).toBe(true);
      expect(
        decideCa({ ca: current.parsed }, true, [other.parsed, current.parsed], settings, NOW).reason,
      ).toBe('the caBundle no longer starts with the published CA');
    });

    it('publishes, not replaces, a CA that was never published', () => {
      const current = ca();
      expect(decideCa({ ca: current.parsed }, false, [], settings, NOW).rotate).toBe(false);
    });

    it('ignores the bundle when there is no webhook configuration', () => {
      expect(decideCa({ ca: ca().parsed }, true, undefined, settings, NOW).rotate).toBe(false);
    });
  });

  describe('decideServing', () => {
    it('issues at once when there is no certificate and the CA was published long ago', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + 50 * HOUR);
      expect(decideServing(undefined, ca.parsed, NOW - HOUR, names, settings, NOW)).toEqual({
        issue: true,
        reason: 'the serving Secret is missing',
        nextCheckAt: NOW,
      });
    });

    it('waits for the propagation delay after a new CA was published', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + 50 * HOUR);
      const decision = decideServing(undefined, ca.parsed, NOW - 4000, names, settings, NOW);
      expect(decision).toMatchObject({ issue: false, nextCheckAt: NOW + 6000 });
      expect(decideServing(undefined, ca.parsed, undefined, names, settings, NOW).issue).toBe(false);
    });

    it('replaces a certificate signed by the previous CA once the new CA has propagated', () => {
      const old = makeCa(keys[0], NOW - 90 * HOUR, NOW + 10 * HOUR);
      const next = makeCa(keys[1], NOW - HOUR, NOW + 99 * HOUR);
      const leaf = makeLeaf(keys[2], old, NOW - HOUR, NOW + 9 * HOUR);
      expect(decideServing(leaf, next.parsed, NOW - 5000, names, settings, NOW)).toMatchObject({
        issue: false,
        reason: 'the serving certificate was not signed by the current CA',
      });
      expect(decideServing(leaf, next.parsed, NOW - 10_000, names, settings, NOW).issue).toBe(true);
    });

    it('renews at the start of the overlap window and not before', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + 99 * HOUR);
      const leaf = makeLeaf(keys[2], ca, NOW - HOUR, NOW + 20 * HOUR);
      const decision = decideServing(leaf, ca.parsed, NOW - HOUR, names, settings, NOW);
      expect(decision).toEqual({
        issue: false,
        reason: 'the serving certificate enters its overlap window',
        nextCheckAt: NOW + 15 * HOUR,
      });
      expect(decideServing(leaf, ca.parsed, NOW - HOUR, names, settings, NOW + 15 * HOUR).issue).toBe(true);
    });

    it('re-issues at once for a mismatched key, missing names or expiry', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + 99 * HOUR);
      const leaf = makeLeaf(keys[2], ca, NOW - HOUR, NOW + 20 * HOUR);
      const mismatched = { ...leaf, privateKeyPem: keys[3].privateKeyPem };
      expect(servingProblem(mismatched, ca.parsed, names, NOW)).toBe('tls.key does not match tls.crt');
      const narrow = makeLeaf(keys[2], ca, NOW - HOUR, NOW + 20 * HOUR, ['kubemacpool-service']);
      expect(servingProblem(narrow, ca.parsed, names, NOW)).toBe(
        'the serving certificate lacks kubemacpool-service.kmp, kubemacpool-service.kmp.svc, kubemacpool-service.kmp.svc.cluster.local, localhost',
      );
      expect(servingProblem(leaf, ca.parsed, names, NOW + 21 * HOUR)).toMatch(
        /^the serving certificate expired/,
      );
      expect(servingProblem(leaf, ca.parsed, names, NOW)).toBeUndefined();
      expect(decideServing(mismatched, ca.parsed, NOW - HOUR, names, settings, NOW).issue).toBe(true);
    });

    it('matches IPv6 SANs whatever the notation', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + 99 * HOUR);
      const v6names = { dnsNames: [], ipAddresses: ['::1'] };
      const certificatePem = signCertificate(
        {
          commonName: 'v6',
          ipAddresses: ['::1'],
          notBefore: new Date(NOW - HOUR),
          notAfter: new Date(NOW + HOUR),
        },
        keys[1],
        ca,
      );
      expect(
        servingProblem({ certificatePem, privateKeyPem: keys[1].privateKeyPem }, ca.parsed, v6names, NOW),
      ).toBe(undefined);
      expect(canonicalIp('fe80::0a:1')).toBe('fe80:0:0:0:0:0:a:1');
      expect(canonicalIp('10.0.0.1')).toBe('10.0.0.1');
    });
  });

  it('never lets a serving certificate outlive its CA', () => {
    const ca = makeCa(keys[0], NOW - HOUR, NOW + 20 * HOUR);
    const validity = servingValidity(ca.parsed, settings, NOW, 5 * 60_000);
    expect(validity.notAfter.getTime()).toBe(ca.parsed.notAfter);
    expect(validity.notBefore.getTime()).toBe(NOW - 5 * 60_000);
  });

  describe('mergeBundle', () => {
    it('puts the CA first, keeps valid others once, drops expired ones', () => {
      const current = makeCa(keys[0], NOW - HOUR, NOW + 90 * HOUR).parsed;
      const previous = makeCa(keys[1], NOW - 90 * HOUR, NOW + 2 * HOUR).parsed;
      const expired = makeCa(keys[2], NOW - 99 * HOUR, NOW - HOUR).parsed;
      const merged = mergeBundle(current, [previous, expired, current, previous], NOW);
      expect(merged.map((c) => c.fingerprint)).toEqual([current.fingerprint, previous.fingerprint]);
      expect(earliestExpiry([merged])).toBe(previous.notAfter);
      expect(earliestExpiry([])).toBe(Infinity);
    });

    it('skips blocks that do not parse', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + HOUR);
      const bundle = `${ca.certificatePem}-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n`;
      expect(parseCertificates(bundle)).toHaveLength(1);
    });
  });
});
