import { Module } from '@nestjs/common';
import { PoolService } from './pool.service';

/** MAC values, ranges, the paged bitmap and the owner index. Imports nothing from Kubernetes. */
@Module({
  providers: [PoolService],
  exports: [PoolService],
})
export class PoolModule {}
