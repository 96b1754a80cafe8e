import { Global, Module } from '@nestjs/common';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigMapRepository } from './config-map.repository';
import { EventRepository } from './event.repository';
import { PodRepository } from './pod.repository';
import { VirtualMachineInstanceRepository } from './virtual-machine-instance.repository';
import { VirtualMachineRepository } from './virtual-machine.repository';

const REPOSITORIES = [
  ConfigMapRepository,
  EventRepository,
  PodRepository,
  VirtualMachineRepository,
  VirtualMachineInstanceRepository,
];

/**
 * The Kubernetes client configuration: KUBECONFIG or ~/.kube/config when present, the in-cluster service account
 * otherwise (client-node's loadFromDefault), and the repositories of the resources several modules read. Knows no
 * feature module: what the features keep of an object is passed in as callbacks.
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
    ...REPOSITORIES,
  ],
  exports: [KubeConfig, ...REPOSITORIES],
})
export class KubeModule {}
