import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type ControlPlaneInfo } from './control-plane';

/** The control plane the global setup started, for code running in a Jest worker. */
export function controlPlaneInfo(): ControlPlaneInfo {
  const path = process.env.KMP_TEST_CONTROL_PLANE;
  if (!path)
    throw new Error('KMP_TEST_CONTROL_PLANE is not set: run integration tests through jest (npm test)');
  return JSON.parse(readFileSync(path, 'utf8')) as ControlPlaneInfo;
}

export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(controlPlaneInfo().kubeconfigPath);
  return kc;
}

/** Creates a namespace of its own for one test, named `<prefix>-<random>`, with extra labels. */
export async function createTestNamespace(
  prefix: string,
  labels: Record<string, string> = {},
  kubeConfig: KubeConfig = adminKubeConfig(),
): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await kubeConfig
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels: { 'kubemacpool.io/test': 'true', ...labels } } } });
  return name;
}

/** A KubeConfig read from a kubeconfig file (e.g. one that authenticates as a ServiceAccount). */
export function kubeConfigFromFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}
