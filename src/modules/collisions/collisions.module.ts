import { Module, type OnModuleDestroy } from '@nestjs/common';
import { makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import { register } from 'prom-client';
import { LeaderModule } from '../leader/leader.module';
import { NamespacesModule } from '../namespaces/namespaces.module';
import { PoolModule } from '../pool/pool.module';
import { CollisionReporter } from './collision-reporter.service';
import { CollisionsService } from './collisions.service';
import { MAC_COLLISIONS_HELP, MAC_COLLISIONS_METRIC } from './collisions.constants';

/**
 * MAC collision detection among running objects (Running VMIs and Multus-wired Running pods in managed
 * namespaces): the `kmp_mac_collisions{mac}` gauge and `MACCollision` Warning Events. The gauge is served with the
 * others by MetricsHttpModule (prom-client's global registry).
 */
@Module({
  imports: [NamespacesModule, PoolModule, LeaderModule],
  providers: [
    makeGaugeProvider({ name: MAC_COLLISIONS_METRIC, help: MAC_COLLISIONS_HELP, labelNames: ['mac'] }),
    CollisionReporter,
    CollisionsService,
  ],
  exports: [CollisionsService],
})
export class CollisionsModule implements OnModuleDestroy {
  /** As MetricsModule: an app created later in the same process (tests) gets a gauge of its own. */
  onModuleDestroy(): void {
    register.removeSingleMetric(MAC_COLLISIONS_METRIC);
  }
}
