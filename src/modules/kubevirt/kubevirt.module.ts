import { Module } from '@nestjs/common';
import { PoolModule } from '../pool/pool.module';
import { VirtualMachineAdmission } from './virtual-machine-admission.service';
import { VirtualMachineRepository } from './virtual-machine.repository';

/** KubeVirt VirtualMachines: which interfaces get a MAC, create and update semantics. */
@Module({
  imports: [PoolModule],
  providers: [VirtualMachineAdmission, VirtualMachineRepository],
  exports: [VirtualMachineAdmission, VirtualMachineRepository],
})
export class KubevirtModule {}
