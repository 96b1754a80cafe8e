import { Global, Module } from '@nestjs/common';
import { KubeConfig } from '@kubernetes/client-node';
import { VirtualMachineRepository } from './virtual-machine.repository';

/**
 * The Kubernetes client configuration: KUBECONFIG or ~/.kube/config when present, the in-cluster service account
 * otherwise (client-node's loadFromDefault). Repositories build their typed clients from it.
 */
@Global()
@Module({
  providers: [
    {
      provide: KubeConfig,
      useFactory: () => {
        const kc = new KubeConfig();
        kc.loadFromDefault();
        return kc;
      },
    },
    VirtualMachineRepository,
  ],
  exports: [KubeConfig, VirtualMachineRepository],
})
export class KubeModule {}
