import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { type AdmissionRequest } from '../mutation/admission-review';
import { type Mutation, type Mutator } from '../mutation/mutation';
import { PoolService } from '../pool/pool.service';
import { VirtualMachineMutator } from './virtual-machine-mutator';

/** The VM webhook's decision for one request: the pure mutator over this process's pool and configuration. */
@Injectable()
export class VirtualMachineAdmissionService implements Mutator {
  private readonly mutator: VirtualMachineMutator;

  constructor(
    pool: PoolService,
    private readonly config: AppConfig,
  ) {
    this.mutator = new VirtualMachineMutator(pool.pool);
    this.fence = () => pool.admissionFence();
  }

  private readonly fence: () => boolean;

  mutate(request: AdmissionRequest): Mutation {
    const now = new Date();
    return this.mutator.mutate(request, {
      now,
      dryRun: request.dryRun,
      policy: this.config.duplicatePolicy,
      deadline: now.getTime() + this.config.pendingTimeoutMs,
      fence: this.fence,
    });
  }
}
