import { Module } from '@nestjs/common';
import { PoolModule } from '../pool/pool.module';
import { VirtualMachineAdmissionService } from './virtual-machine-admission.service';

/** KubeVirt VirtualMachines: which interfaces get a MAC, create and update semantics. */
@Module({
  imports: [PoolModule],
  providers: [VirtualMachineAdmissionService],
  exports: [VirtualMachineAdmissionService],
})
export class KubevirtModule {}
