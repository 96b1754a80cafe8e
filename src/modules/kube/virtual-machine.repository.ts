import { Injectable } from '@nestjs/common';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { isNotFound } from './kube-errors';
import { VIRTUAL_MACHINES_API } from './kube.constants';

/** KubeVirt VirtualMachine reads through the API server. */
@Injectable()
export class VirtualMachineRepository {
  private readonly custom: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** Whether the VM exists; errors other than NotFound propagate. */
  async exists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.custom.getNamespacedCustomObject({ ...VIRTUAL_MACHINES_API, namespace, name });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }
}
