import { Module, type OnModuleDestroy } from '@nestjs/common';
import { makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import { type Gauge, register } from 'prom-client';
import { PoolModule } from '../pool/pool.module';
import { PoolService } from '../pool/pool.service';
import {
  POOL_ENTRIES_METRIC,
  POOL_SHARED_METRIC,
  POOL_SIZE_METRIC,
  POOL_USED_METRIC,
} from './metrics.constants';

/**
 * Pool gauges, read from the pool at scrape time so they cost nothing on the admission path. They are served by
 * MetricsHttpModule on METRICS_ADDR.
 */
@Module({
  imports: [PoolModule],
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
        this.set(pool.pool.stats().used);
      },
    }),
    makeGaugeProvider({
      name: POOL_ENTRIES_METRIC,
      help: 'Pool entries (one per object and interface) by state: pending (admitted, not yet seen persisted) or committed.',
      labelNames: ['state'],
      inject: [PoolService],
      collect(this: Gauge, pool: PoolService) {
        const stats = pool.pool.stats();
        this.set({ state: 'pending' }, stats.pending);
        this.set({ state: 'committed' }, stats.committed);
      },
    }),
    makeGaugeProvider({
      name: POOL_SHARED_METRIC,
      help: 'MAC addresses held by more than one object: requested duplicates admitted under the Warn policy, and duplicates found when the pool was rebuilt.',
      inject: [PoolService],
      collect(this: Gauge, pool: PoolService) {
        this.set(pool.pool.stats().shared);
      },
    }),
  ],
})
export class MetricsModule implements OnModuleDestroy {
  /**
   * The library registers metrics in prom-client's global registry and reuses them by name; remove ours so an app
   * created later in the same process (tests) collects from its own pool, not from this one.
   */
  onModuleDestroy(): void {
    for (const name of [POOL_SIZE_METRIC, POOL_USED_METRIC, POOL_ENTRIES_METRIC, POOL_SHARED_METRIC])
      register.removeSingleMetric(name);
  }
}
