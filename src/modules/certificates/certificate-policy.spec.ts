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
import { type CertifiedKey, type KeyPairPem, X509Repository } from './x509.repository';
import { upstreamCa, upstreamServingCertificate } from '../../../test/fixtures/upstream-certificates';

const x509 = new X509Repository();

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
  keys = await Promise.all([1, 2, 3, 4, 5].map(() => x509.generateRsaKeyPair()));
});

function makeCa(key: KeyPairPem, from: number, to: number): CertifiedKey & { parsed: ParsedCertificate } {
  const certificatePem = x509.signCertificate(
    { commonName: 'kubemacpool-mutator', isCa: true, notBefore: new Date(from), notAfter: new Date(to) },
    key,
  );
  return { certificatePem, privateKeyPem: key.privateKeyPem, parsed: parseCertificates(certificatePem)[0] };
}

function makeLeaf(key: KeyPairPem, issuer: CertifiedKey, from: number, to: number, dns = names.dnsNames) {
  const certificatePem = x509.signCertificate(
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
      expect(decideCa({ problem: 'the CA Secret is missing' }, settings, NOW)).toEqual({
        rotate: true,
        reason: 'the CA Secret is missing',
        rotateAt: NOW,
      });
    });

    it('keeps a valid CA until its overlap window starts', () => {
      const current = ca();
      const decision = decideCa({ ca: current.parsed }, settings, NOW);
      expect(decision.rotate).toBe(false);
      expect(decision.rotateAt).toBe(current.parsed.notAfter - 10 * HOUR);
      expect(decideCa({ ca: current.parsed }, settings, decision.rotateAt).rotate).toBe(true);
    });

    it('keeps a valid CA whose caBundles were emptied, and the merge puts it back first', () => {
      const current = ca();
      expect(decideCa(assessCa(current, NOW), settings, NOW).rotate).toBe(false);
      for (const emptied of [[], parseCertificates('')])
        expect(mergeBundle(current.parsed, emptied, NOW).map((c) => c.fingerprint)).toEqual([
          current.parsed.fingerprint,
        ]);
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
      const certificatePem = x509.signCertificate(
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

  describe('existing material of any mix converges in one decision', () => {
    // The CA has stood in every caBundle long enough: the serving decision is not held back by propagation.
    const publishedAt = NOW - HOUR;
    const service = { name: 'kubemacpool-service', namespace: 'kmp' };

    /**
     * One decision on the CA and one on the serving certificate, carried out the way the manager does (a new CA
     * signs a new serving certificate), then the same questions again: they must find nothing to do.
     */
    function converge(caData: CertifiedKey | undefined, servingData: CertifiedKey | undefined) {
      const caDecision = decideCa(assessCa(caData, NOW), settings, NOW);
      let ca = caData;
      if (caDecision.rotate) ca = makeCa(keys[3], NOW - 60_000, NOW + 100 * HOUR);
      const caParsed = parseCertificates(ca!.certificatePem)[0];
      const servingDecision = decideServing(servingData, caParsed, publishedAt, names, settings, NOW);
      let serving = servingData;
      if (servingDecision.issue || caDecision.rotate) {
        const validity = servingValidity(caParsed, settings, NOW, 5 * 60_000);
        serving = {
          certificatePem: x509.signCertificate(
            { commonName: 'leaf', ...names, usages: ['serverAuth'], ...validity },
            keys[4],
            ca!,
          ),
          privateKeyPem: keys[4].privateKeyPem,
        };
      }
      const after = assessCa(ca, NOW);
      expect(after.problem).toBeUndefined();
      expect(decideCa(after, settings, NOW).rotate).toBe(false);
      const again = decideServing(serving, after.ca!, publishedAt, names, settings, NOW);
      expect({ problem: servingProblem(serving, after.ca!, names, NOW), issue: again.issue }).toEqual({
        problem: undefined,
        issue: false,
      });
      expect(again.nextCheckAt).toBeGreaterThan(NOW);
      return {
        caRotated: caDecision.rotate,
        servingIssued: serving !== servingData,
        ca: ca!,
        serving: serving!,
      };
    }

    const upstream = () => {
      const ca = upstreamCa(keys[0], {
        commonName: 'kubemacpool-mutator',
        notBefore: new Date(NOW - HOUR),
        notAfter: new Date(NOW + 90 * HOUR),
      });
      return { ca, leaf: upstreamServingCertificate(keys[1], ca, service, new Date(NOW + 40 * HOUR)) };
    };

    it("adopts upstream's CA and replaces its serving certificate that lacks a required IP SAN", () => {
      const { ca, leaf } = upstream();
      expect(servingProblem(leaf, parseCertificates(ca.certificatePem)[0], names, NOW)).toBe(
        'the serving certificate lacks localhost, 127.0.0.1',
      );
      const outcome = converge(ca, leaf);
      expect(outcome).toMatchObject({ caRotated: false, servingIssued: true });
      expect(outcome.ca).toBe(ca);
    });

    it("adopts upstream's CA and serving certificate as they are when they are valid", () => {
      const { ca, leaf } = upstream();
      const exact = servingNames('kmp', 'kubemacpool-service', [], []);
      expect(servingProblem(leaf, parseCertificates(ca.certificatePem)[0], exact, NOW)).toBeUndefined();
      expect(
        decideServing(leaf, parseCertificates(ca.certificatePem)[0], publishedAt, exact, settings, NOW).issue,
      ).toBe(false);
    });

    it('keeps a valid CA and replaces a broken serving certificate', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + 90 * HOUR);
      const leaf = makeLeaf(keys[1], ca, NOW - HOUR, NOW + 40 * HOUR);
      expect(converge(ca, { ...leaf, privateKeyPem: keys[2].privateKeyPem })).toMatchObject({
        caRotated: false,
        servingIssued: true,
      });
      expect(converge(ca, { certificatePem: 'junk', privateKeyPem: 'junk' }).servingIssued).toBe(true);
      expect(converge(ca, undefined).servingIssued).toBe(true);
    });

    it('keeps a valid CA and replaces a serving certificate another CA signed', () => {
      const ca = makeCa(keys[0], NOW - HOUR, NOW + 90 * HOUR);
      const other = makeCa(keys[2], NOW - HOUR, NOW + 90 * HOUR);
      const leaf = makeLeaf(keys[1], other, NOW - HOUR, NOW + 40 * HOUR);
      expect(converge(ca, leaf)).toMatchObject({ caRotated: false, servingIssued: true });
    });

    it('replaces a bad CA, and with it the serving certificate that was valid under it', () => {
      const good = makeCa(keys[0], NOW - HOUR, NOW + 90 * HOUR);
      const leaf = makeLeaf(keys[1], good, NOW - HOUR, NOW + 40 * HOUR);
      const expired = makeCa(keys[0], NOW - 99 * HOUR, NOW - HOUR);
      const bad: (CertifiedKey | undefined)[] = [
        undefined,
        { certificatePem: 'junk', privateKeyPem: good.privateKeyPem },
        { ...good, privateKeyPem: keys[2].privateKeyPem },
        expired,
        makeCa(keys[0], NOW - 99 * HOUR, NOW + HOUR),
        upstreamCa(keys[0], {
          commonName: 'kubemacpool-mutator',
          notBefore: new Date(NOW - HOUR),
          notAfter: new Date(NOW + 90 * HOUR),
          withoutCertSign: true,
        }),
      ];
      for (const ca of bad)
        expect(converge(ca, leaf)).toMatchObject({ caRotated: true, servingIssued: true });
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
