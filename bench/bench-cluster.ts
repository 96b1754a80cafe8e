import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ControlPlane } from '../test/support/control-plane';

/** The test control plane for a benchmark suite (no controller manager), with KUBECONFIG exported and clients. */
export async function benchCluster() {
  const plane = await ControlPlane.start({ controllerManager: false });
  process.env.KUBECONFIG = plane.info.kubeconfigPath;
  const kc = ControlPlane.kubeConfig(plane.info);
  return {
    plane,
    kc,
    core: kc.makeApiClient(CoreV1Api),
    admission: kc.makeApiClient(AdmissionregistrationV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
  };
}
