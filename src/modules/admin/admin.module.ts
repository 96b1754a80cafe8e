import { Module } from '@nestjs/common';
import { AdmissionModule } from '../admission/admission.module';
import { CollisionsModule } from '../collisions/collisions.module';
import { LeaderModule } from '../leader/leader.module';
import { PoolModule } from '../pool/pool.module';
import { AdminService } from './admin.service';

/**
 * The admin API's answers (pool statistics, MAC owners, allocations, collisions). Its controller is served by the
 * guarded HTTPS application (metrics/secure-metrics.module.ts), which is handed this module's AdminService.
 */
@Module({
  imports: [PoolModule, CollisionsModule, LeaderModule, AdmissionModule],
  providers: [AdminService],
  exports: [AdminService],
})
export class AdminModule {}
