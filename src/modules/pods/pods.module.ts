import { Module } from '@nestjs/common';
import { PoolModule } from '../pool/pool.module';
import { PodAdmissionService } from './pod-admission.service';

/** Pods with Multus secondary networks: annotation parsing and the Pod mutation. */
@Module({
  imports: [PoolModule],
  providers: [PodAdmissionService],
  exports: [PodAdmissionService],
})
export class PodsModule {}
