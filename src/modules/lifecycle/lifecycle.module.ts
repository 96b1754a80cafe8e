import { Module } from '@nestjs/common';
import { NamespacesModule } from '../namespaces/namespaces.module';
import { PoolModule } from '../pool/pool.module';
import { LegacyFinalizerService } from './legacy-finalizer.service';
import { LifecycleService } from './lifecycle.service';
import { PendingSweepService } from './pending-sweep.service';
import { RangeConfigService } from './range-config.service';

/**
 * Allocation life cycle: the pool rebuilt from the cluster, admitted MACs committed when persisted, released when
 * their objects go, expired pending ones settled; VMs freed of the legacy finalizer; day-2 range changes.
 */
@Module({
  imports: [NamespacesModule, PoolModule],
  providers: [LifecycleService, PendingSweepService, LegacyFinalizerService, RangeConfigService],
})
export class LifecycleModule {}
