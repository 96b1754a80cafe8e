import { Module } from '@nestjs/common';
import { KubevirtModule } from '../kubevirt/kubevirt.module';
import { PoolModule } from '../pool/pool.module';
import { PodAdmission } from './pod-admission.service';

/** Pods with Multus secondary networks: annotation parsing and the Pod mutation. */
@Module({
  imports: [PoolModule, KubevirtModule],
  providers: [PodAdmission],
  exports: [PodAdmission],
})
export class PodsModule {}
