import { Module, type OnModuleDestroy } from '@nestjs/common';
import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { type Gauge, register } from 'prom-client';
import { CertificateExpiryService } from '../certificates/certificate-expiry.service';
import { CertificatesModule } from '../certificates/certificates.module';
import { PoolModule } from '../pool/pool.module';
import { type PoolStats } from '../pool/mac-pool';
import { PoolService } from '../pool/pool.service';
import { AdmissionMetrics } from './admission-metrics.service';
import {
  ALLOCATION_FAILURES_METRIC,
  CERTIFICATE_NOT_AFTER_METRIC,
  CERTIFICATE_RENEWAL_METRIC,
  DUPLICATE_VM_MACS_METRIC,
  POOL_ENTRIES_METRIC,
  POOL_SHARED_METRIC,
  POOL_SIZE_METRIC,
  POOL_USED_METRIC,
  WEBHOOK_IN_FLIGHT_METRIC,
  WEBHOOK_LATENCY_BUCKETS,
  WEBHOOK_LATENCY_METRIC,
  WEBHOOK_REQUESTS_METRIC,
} from './metrics.constants';

/**
 * Sets a gauge from the pool's figures once the pool was rebuilt. Before that it has no sample at all: a pool half
 * rebuilt would read as a dip towards 0 after every restart, which the exhaustion forecast (predict_linear over
 * hours) and the dashboard would take for real.
 */
export function whenRebuilt(
  gauge: Gauge,
  pool: PoolService,
  set: (stats: PoolStats) => void,
  labelled = false,
): void {
  if (pool.ready) {
    set(pool.pool.stats());
  } else if (labelled) {
    gauge.reset();
  } else {
    // reset() leaves an unlabelled gauge at 0; remove() takes its one sample away.
    gauge.remove();
  }
}

const OWN_METRICS = [
  POOL_SIZE_METRIC,
  POOL_USED_METRIC,
  POOL_ENTRIES_METRIC,
  POOL_SHARED_METRIC,
  DUPLICATE_VM_MACS_METRIC,
  WEBHOOK_LATENCY_METRIC,
  WEBHOOK_REQUESTS_METRIC,
  WEBHOOK_IN_FLIGHT_METRIC,
  ALLOCATION_FAILURES_METRIC,
  CERTIFICATE_NOT_AFTER_METRIC,
  CERTIFICATE_RENEWAL_METRIC,
];

/**
 * The manager's metrics. Gauges read the pool and the certificates at scrape time, so they cost nothing on the
 * admission path; the admission routes measure through AdmissionMetrics. They are served by MetricsHttpModule on
 * METRICS_ADDR; docs/metrics.md is generated from this registry (`npm run docs:metrics`).
 */
@Module({
  imports: [PoolModule, CertificatesModule],
  providers: [
    makeGaugeProvider({
      name: POOL_SIZE_METRIC,
      help: 'Number of MAC addresses in the configured range.',
      inject: [PoolService],
      collect(this: Gauge, pool: PoolService) {
        this.set(pool.pool.stats().size);
      },
    }),
    makeGaugeProvider({
      name: POOL_USED_METRIC,
      help: 'Distinct MAC addresses of the range held by at least one object.',
      inject: [PoolService],
      collect(this: Gauge, pool: PoolService) {
        whenRebuilt(this, pool, (stats) => this.set(stats.used));
      },
    }),
    makeGaugeProvider({
      name: POOL_ENTRIES_METRIC,
      help: 'Pool entries (one per object and interface) by state: pending (admitted, not yet seen persisted) or committed.',
      labelNames: ['state'],
      inject: [PoolService],
      collect(this: Gauge, pool: PoolService) {
        whenRebuilt(
          this,
          pool,
          (stats) => {
            this.set({ state: 'pending' }, stats.pending);
            this.set({ state: 'committed' }, stats.committed);
          },
          true,
        );
      },
    }),
    makeGaugeProvider({
      name: POOL_SHARED_METRIC,
      help: 'MAC addresses held by more than one object: requested duplicates admitted under the Warn policy, and duplicates found when the pool was rebuilt.',
      inject: [PoolService],
      collect(this: Gauge, pool: PoolService) {
        whenRebuilt(this, pool, (stats) => this.set(stats.shared));
      },
    }),
    makeGaugeProvider({
      name: DUPLICATE_VM_MACS_METRIC,
      help: '[DEPRECATED] MAC addresses that more than one VirtualMachine interface holds right now (a gauge, recomputed live). Use kmp_mac_collisions instead.',
      inject: [PoolService],
      collect(this: Gauge, pool: PoolService) {
        whenRebuilt(this, pool, (stats) => this.set(stats.vmDuplicates));
      },
    }),
    makeHistogramProvider({
      name: WEBHOOK_LATENCY_METRIC,
      help: 'Histogram of the latency of processing admission requests',
      labelNames: ['webhook'],
      buckets: [...WEBHOOK_LATENCY_BUCKETS],
    }),
    makeCounterProvider({
      name: WEBHOOK_REQUESTS_METRIC,
      help: 'Total number of admission requests by HTTP status code.',
      labelNames: ['webhook', 'code'],
    }),
    makeGaugeProvider({
      name: WEBHOOK_IN_FLIGHT_METRIC,
      help: 'Current number of admission requests being served.',
      labelNames: ['webhook'],
      inject: [AdmissionMetrics],
      collect(this: Gauge, admission: AdmissionMetrics) {
        for (const instrument of admission.webhooks())
          this.set({ webhook: instrument.path }, instrument.inFlight);
      },
    }),
    makeCounterProvider({
      name: ALLOCATION_FAILURES_METRIC,
      help: 'Allocations denied or failed at admission, by reason (docs/metrics.md lists the reasons).',
      labelNames: ['reason'],
    }),
    makeGaugeProvider({
      name: CERTIFICATE_NOT_AFTER_METRIC,
      help: 'Expiry (not-after, Unix seconds) of the webhook CA and of the serving certificate this replica serves, by certificate (ca, serving); absent until read.',
      labelNames: ['certificate'],
      inject: [CertificateExpiryService],
      collect(this: Gauge, expiry: CertificateExpiryService) {
        this.reset();
        if (expiry.caNotAfter !== undefined)
          this.set({ certificate: 'ca' }, Math.floor(expiry.caNotAfter / 1000));
        if (expiry.servingNotAfter !== undefined)
          this.set({ certificate: 'serving' }, Math.floor(expiry.servingNotAfter / 1000));
      },
    }),
    makeGaugeProvider({
      name: CERTIFICATE_RENEWAL_METRIC,
      help: 'When the manager is due to replace the webhook CA and the serving certificate (Unix seconds: not-after minus CA_OVERLAP_INTERVAL or CERT_OVERLAP_INTERVAL), by certificate (ca, serving); a time in the past means the renewal is overdue.',
      labelNames: ['certificate'],
      inject: [CertificateExpiryService],
      collect(this: Gauge, expiry: CertificateExpiryService) {
        this.reset();
        if (expiry.caRenewalDue !== undefined)
          this.set({ certificate: 'ca' }, Math.floor(expiry.caRenewalDue / 1000));
        if (expiry.servingRenewalDue !== undefined)
          this.set({ certificate: 'serving' }, Math.floor(expiry.servingRenewalDue / 1000));
      },
    }),
    AdmissionMetrics,
  ],
  exports: [AdmissionMetrics],
})
export class MetricsModule implements OnModuleDestroy {
  /**
   * The library registers metrics in prom-client's global registry and reuses them by name; remove ours so an app
   * created later in the same process (tests) collects from its own services, not from this one's.
   */
  onModuleDestroy(): void {
    for (const name of OWN_METRICS) register.removeSingleMetric(name);
  }
}
