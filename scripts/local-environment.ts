import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { join } from 'node:path';
import {
  RELEASE_NAMESPACE,
  RELEASE_WEBHOOK_CONFIGURATION_OPTIONS,
  buildWebhookConfiguration,
} from '../src/common/webhook-configuration';
import { ControlPlane } from '../test/support/control-plane';
import { ManagerProcess } from '../test/support/manager-process';

/** The local run: a control plane, the manager as a process, and the webhook configuration pointing at it. */
export interface LocalEnvironment {
  plane: ControlPlane;
  manager: ManagerProcess;
  kubeConfig: KubeConfig;
  stop(): Promise<void>;
}

/**
 * Starts the local control plane (kube-apiserver, etcd, kube-controller-manager, the CRDs), then the manager as a
 * child process with the release defaults (pods opt-in, VMs opt-out) and a `url` client configuration on loopback.
 */
export async function startLocal(log: (line: string) => void): Promise<LocalEnvironment> {
  log('starting kube-apiserver and etcd on loopback…');
  const plane = await ControlPlane.start();
  try {
    return await startManager(plane, log);
  } catch (error) {
    await plane.stop();
    throw error;
  }
}

async function startManager(plane: ControlPlane, log: (line: string) => void): Promise<LocalEnvironment> {
  process.env.KUBECONFIG = plane.info.kubeconfigPath;
  const kubeConfig = ControlPlane.kubeConfig(plane.info);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: RELEASE_NAMESPACE } } });
  await core.createNamespacedConfigMap({
    namespace: RELEASE_NAMESPACE,
    body: {
      metadata: { name: 'kubemacpool-mac-range-config' },
      data: { RANGE_START: '02:00:00:00:00:00', RANGE_END: '02:ff:ff:ff:ff:ff' },
    },
  });
  const manager = await ManagerProcess.create(
    {
      RANGE_START: '02:00:00:00:00:00',
      RANGE_END: '02:ff:ff:ff:ff:ff',
      POD_NAMESPACE: RELEASE_NAMESPACE,
      CA_PROPAGATION_DELAY: '1s',
    },
    join(plane.directory, 'manager.log'),
  );
  await kubeConfig.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: buildWebhookConfiguration({
      ...RELEASE_WEBHOOK_CONFIGURATION_OPTIONS,
      clientConfig: { url: `https://127.0.0.1:${manager.port}` },
    }),
  });
  log('starting the manager…');
  const readyMs = await manager.start();
  log(
    `manager ready in ${readyMs} ms (webhooks on https://127.0.0.1:${manager.port}, log ${manager.logPath})`,
  );
  return {
    plane,
    manager,
    kubeConfig,
    stop: async () => {
      await kubeConfig
        .makeApiClient(AdmissionregistrationV1Api)
        .deleteMutatingWebhookConfiguration({
          name: RELEASE_WEBHOOK_CONFIGURATION_OPTIONS.name ?? 'kubemacpool-mutator',
        })
        .catch(() => undefined);
      await manager.stop();
      await plane.stop();
    },
  };
}
