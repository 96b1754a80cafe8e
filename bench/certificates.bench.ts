import { monitorEventLoopDelay } from 'node:perf_hooks';
import { X509Repository } from '../src/modules/certificates/x509.repository';
import { type BenchSuite, secondsSince } from './harness';

const x509 = new X509Repository();

const ROUNDS = 20;

/** What the certificate manager does for a full rotation: a CA key and certificate, a serving key and certificate. */
async function caAndServing(): Promise<void> {
  const now = Date.now();
  const notBefore = new Date(now - 300_000);
  const notAfter = new Date(now + 365 * 86_400_000);
  const caKey = await x509.generateRsaKeyPair();
  const caPem = x509.signCertificate(
    { commonName: 'kubemacpool-mutator', isCa: true, notBefore, notAfter },
    caKey,
  );
  const servingKey = await x509.generateRsaKeyPair();
  x509.signCertificate(
    {
      commonName: 'kubemacpool-service.kubemacpool-system.pod.cluster.local',
      dnsNames: [
        'kubemacpool-service',
        'kubemacpool-service.kubemacpool-system',
        'kubemacpool-service.kubemacpool-system.svc',
        'kubemacpool-service.kubemacpool-system.svc.cluster.local',
      ],
      notBefore,
      notAfter,
    },
    servingKey,
    { certificatePem: caPem, privateKeyPem: caKey.privateKeyPem },
  );
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export const certificatesSuite: BenchSuite = {
  name: 'certificates',
  async run(report) {
    await caAndServing();
    const durations: number[] = [];
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    for (let i = 0; i < ROUNDS; i++) {
      const start = process.hrtime.bigint();
      await caAndServing();
      durations.push(secondsSince(start) * 1000);
    }
    delay.disable();
    durations.sort((x, y) => x - y);
    report({
      bench: 'certificates/ca-and-serving-generation-median',
      value: Number(percentile(durations, 50).toFixed(1)),
      unit: 'ms',
      target: '<= 300',
    });
    report({
      bench: 'certificates/ca-and-serving-generation-p95',
      value: Number(percentile(durations, 95).toFixed(1)),
      unit: 'ms',
    });
    report({
      bench: 'certificates/event-loop-delay-p99-while-generating',
      value: Number((delay.percentile(99) / 1e6).toFixed(2)),
      unit: 'ms',
      target: '< 20',
    });
    report({
      bench: 'certificates/event-loop-delay-max-while-generating',
      value: Number((delay.max / 1e6).toFixed(2)),
      unit: 'ms',
    });
  },
};
