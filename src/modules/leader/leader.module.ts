import { Module, type OnModuleDestroy } from '@nestjs/common';
import { makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import { register } from 'prom-client';
import { LEADER_HELP, LEADER_METRIC } from './leader.constants';
import { LeaderElectionService } from './leader-election.service';
import { LeaseRepository } from './lease.repository';
import { PoolModule } from '../pool/pool.module';

/** Leader election on a Lease: which replica holds the pool and may allocate (`kmp_leader`). */
@Module({
  imports: [PoolModule],
  providers: [
    makeGaugeProvider({ name: LEADER_METRIC, help: LEADER_HELP }),
    LeaseRepository,
    LeaderElectionService,
  ],
  exports: [LeaderElectionService],
})
export class LeaderModule implements OnModuleDestroy {
  /** As MetricsModule: an app created later in the same process (tests) gets a gauge of its own. */
  onModuleDestroy(): void {
    register.removeSingleMetric(LEADER_METRIC);
  }
}
