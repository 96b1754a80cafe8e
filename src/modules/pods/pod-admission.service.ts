import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { type AdmissionRequest } from '../mutation/admission-review';
import { type Mutation, type Mutator, NO_MUTATION } from '../mutation/mutation';
import { describeError } from '../kube/kube-errors';
import { VirtualMachineRepository } from '../kube/virtual-machine.repository';
import { PoolService } from '../pool/pool.service';
import { vmiOwnerName } from './pod-macs';
import { PodMutator } from './pod-mutator';

/**
 * The Pod webhook's decision for one request. virt-launcher pods of a VM that exists are left alone (the VM
 * webhook gave their interfaces MACs); that one check reads the API, and only for pods a VMI owns.
 */
@Injectable()
export class PodAdmissionService implements Mutator {
  private readonly logger = new Logger(PodAdmissionService.name);
  private readonly mutator: PodMutator;

  constructor(
    pool: PoolService,
    private readonly config: AppConfig,
    private readonly virtualMachines: VirtualMachineRepository,
  ) {
    this.mutator = new PodMutator(pool.pool);
    this.fence = () => pool.admissionFence();
  }

  private readonly fence: () => boolean;

  async mutate(request: AdmissionRequest): Promise<Mutation> {
    const vmi = vmiOwnerName(request.object);
    if (vmi !== undefined && (await this.belongsToVirtualMachine(request.namespace, vmi))) return NO_MUTATION;
    return this.mutator.mutate(request, {
      dryRun: request.dryRun,
      policy: this.config.duplicatePolicy,
      deadline: Date.now() + this.config.pendingTimeoutMs,
      fence: this.fence,
    });
  }

  /** Upstream's rule: a VM of the VMI's name exists; when the API cannot tell, the pod is treated as a VM's. */
  private async belongsToVirtualMachine(namespace: string, vmi: string): Promise<boolean> {
    try {
      return await this.virtualMachines.exists(namespace, vmi);
    } catch (error) {
      this.logger.warn(
        `cannot tell whether VM ${namespace}/${vmi} exists, leaving its pod alone: ${describeError(error)}`,
      );
      return true;
    }
  }
}
