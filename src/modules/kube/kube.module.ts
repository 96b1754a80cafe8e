import { Global, Logger, Module } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { ConfigMapRepository } from './config-map.repository';
import { EventRepository } from './event.repository';
import { KubeConnection } from './kube-connection';
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
 * The connection to the API server: KUBECONFIG or ~/.kube/config when present, the in-cluster service account
 * otherwise (client-node's loadFromDefault order), read by the manager's own loader; client-node's KubeConfig is
 * imported only for what that loader does not implement (exec plugins, auth providers, proxies). Also the
 * repositories of the resources several modules read. Knows no feature module: what the features keep of an object
 * is passed in as callbacks.
 */
@Global()
@Module({
  providers: [
    {
      provide: KubeConnection,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        const connection = await KubeConnection.fromEnvironment(
          config.kubeconfigFlag === undefined
            ? process.env
            : { ...process.env, KUBECONFIG: config.kubeconfigFlag },
        );
        new Logger('KubeModule').log('Kubernetes client configured', connection.describe());
        return connection;
      },
    },
    ...REPOSITORIES,
  ],
  exports: [KubeConnection, ...REPOSITORIES],
})
export class KubeModule {}
