import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildWebhookConfiguration } from '../../src/common/webhook-configuration';
import { chartIdentity } from './chart-identity';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from './cluster';
import { ManagerProcess } from './manager-process';

/**
 * The manager as its own process on the shared control plane, with a namespace and an opt-in webhook configuration
 * of its own that manages no namespace (the configuration is there for its caBundle): enough to start, make its
 * certificates and serve (namespaces labelled `kubemacpool.io/test-scope: <scope>` and opted in are served). It authenticates as the chart's ServiceAccount (test/support/chart-identity.ts). `stop` removes the configuration and stops the process.
 */
export async function startScopedManager(
  label: string,
  env: Record<string, string>,
  options: Parameters<typeof ManagerProcess.create>[2] = {},
): Promise<{ manager: ManagerProcess; scope: string; stop: () => Promise<void> }> {
  const admission = adminKubeConfig().makeApiClient(AdmissionregistrationV1Api);
  const scope = randomBytes(4).toString('hex');
  const configurationName = `kmp-${label}-${scope}`;
  const namespace = await createTestNamespace(`kmp-${label}-manager`);
  const identity = await chartIdentity(namespace, configurationName);
  const manager = await ManagerProcess.create(
    {
      KUBECONFIG: identity.kubeconfigPath,
      POD_NAMESPACE: namespace,
      WEBHOOK_CONFIGURATION_NAME: configurationName,
      CA_PROPAGATION_DELAY: '1s',
      LOG_LEVEL: 'warn',
      ...env,
    },
    join(controlPlaneInfo().directory, `manager-${label}-${scope}.log`),
    options,
  );
  await admission.createMutatingWebhookConfiguration({
    body: buildWebhookConfiguration({
      name: configurationName,
      podsMode: 'opt-in',
      virtualMachinesMode: 'opt-in',
      clientConfig: { url: `https://127.0.0.1:${manager.port}` },
      extraNamespaceSelectorExpressions: [
        { key: 'kubemacpool.io/test-scope', operator: 'In', values: [scope] },
      ],
    }),
  });
  const stop = async () => {
    await admission.deleteMutatingWebhookConfiguration({ name: configurationName }).catch(() => undefined);
    await manager.stop();
    await identity.release();
  };
  return { manager, scope, stop };
}
