import { Module } from '@nestjs/common';
import { NamespacesModule } from '../namespaces/namespaces.module';
import { PoolModule } from '../pool/pool.module';
import { LifecycleController } from './lifecycle.controller';
import { RangeConfigWatcher } from './range-config.watcher';

/** Allocation life cycle: rebuild, commit, release, pending deadlines (DESIGN.md §3). */
@Module({
  imports: [NamespacesModule, PoolModule],
  providers: [LifecycleController, RangeConfigWatcher],
})
export class LifecycleModule {}
