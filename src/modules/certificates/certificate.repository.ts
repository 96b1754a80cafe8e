import { Injectable } from '@nestjs/common';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1Secret,
} from '@kubernetes/client-node';
import { isNotFound } from '../kube/kube-errors';
import { ResourceWatch, type ResourceWatchOptions } from '../kube/resource-watch';

/**
 * The Kubernetes I/O of the certificates module: the two Secrets in the manager's namespace and the webhook
 * configuration. Writes carry the resourceVersion that was read, so a concurrent writer makes them fail with 409
 * instead of being overwritten.
 */
@Injectable()
export class CertificateRepository {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;

  constructor(private readonly kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  }

  async readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Creates the Secret, or replaces it when `body` carries the resourceVersion of the copy that was read. */
  async writeSecret(namespace: string, body: V1Secret): Promise<V1Secret> {
    if (body.metadata?.resourceVersion === undefined) {
      return this.core.createNamespacedSecret({ namespace, body });
    }
    return this.core.replaceNamespacedSecret({ namespace, name: body.metadata.name!, body });
  }

  /** Deletes the Secret if it is still at `resourceVersion` (409 otherwise); one already gone is fine. */
  async deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({
        namespace,
        name,
        body: { preconditions: { resourceVersion } },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async readWebhookConfiguration(name: string): Promise<V1MutatingWebhookConfiguration | undefined> {
    try {
      return await this.admission.readMutatingWebhookConfiguration({ name });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  replaceWebhookConfiguration(body: V1MutatingWebhookConfiguration): Promise<V1MutatingWebhookConfiguration> {
    return this.admission.replaceMutatingWebhookConfiguration({ name: body.metadata!.name!, body });
  }

  /**
   * Watches one Secret of the namespace, by name (a fieldSelector, as cert-manager scopes its Secret watches): only
   * the manager's own Secrets reach this process, not every Secret of the namespace. A Role, not a ClusterRole, can
   * grant it.
   */
  watchSecret(
    namespace: string,
    name: string,
    handlers: Pick<ResourceWatchOptions<V1Secret>, 'onSync' | 'onEvent' | 'onError'>,
  ): ResourceWatch<V1Secret> {
    return new ResourceWatch<V1Secret>(this.kubeConfig, {
      path: `/api/v1/namespaces/${namespace}/secrets`,
      query: { fieldSelector: `metadata.name=${name}` },
      ...handlers,
    });
  }

  watchWebhookConfiguration(
    name: string,
    handlers: Pick<ResourceWatchOptions<V1MutatingWebhookConfiguration>, 'onSync' | 'onEvent' | 'onError'>,
  ): ResourceWatch<V1MutatingWebhookConfiguration> {
    const fieldSelector = `metadata.name=${name}`;
    return new ResourceWatch<V1MutatingWebhookConfiguration>(this.kubeConfig, {
      path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      query: { fieldSelector },
      ...handlers,
    });
  }
}
