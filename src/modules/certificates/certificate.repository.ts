import { Injectable } from '@nestjs/common';
import { type V1MutatingWebhookConfiguration, type V1Secret } from '@kubernetes/client-node';
import { KubeConnection } from '../kube/kube-connection';
import { isNotFound } from '../kube/kube-errors';
import { kubeJson } from '../kube/kube-http';
import { ResourceWatch, type ResourceWatchOptions } from '../kube/resource-watch';

const WEBHOOK_CONFIGURATIONS_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

/** A namespace's Secrets collection, or one Secret of it. */
function secretPath(namespace: string, name?: string): string {
  const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

function webhookConfigurationPath(name: string): string {
  return `${WEBHOOK_CONFIGURATIONS_PATH}/${encodeURIComponent(name)}`;
}

/**
 * The Kubernetes I/O of the certificates module: the two Secrets in the manager's namespace and the webhook
 * configuration. Writes carry the resourceVersion that was read, so a concurrent writer makes them fail with 409
 * instead of being overwritten.
 */
@Injectable()
export class CertificateRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  async readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await kubeJson<V1Secret>(this.kubeConfig, { path: secretPath(namespace, name) });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Creates the Secret, or replaces it when `body` carries the resourceVersion of the copy that was read. */
  async writeSecret(namespace: string, body: V1Secret): Promise<V1Secret> {
    if (body.metadata?.resourceVersion === undefined) {
      return kubeJson<V1Secret>(this.kubeConfig, { method: 'POST', path: secretPath(namespace), body });
    }
    return kubeJson<V1Secret>(this.kubeConfig, {
      method: 'PUT',
      path: secretPath(namespace, body.metadata.name!),
      body,
    });
  }

  /** Deletes the Secret if it is still at `resourceVersion` (409 otherwise); one already gone is fine. */
  async deleteSecret(namespace: string, name: string, resourceVersion: string): Promise<void> {
    try {
      await kubeJson(this.kubeConfig, {
        method: 'DELETE',
        path: secretPath(namespace, name),
        body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { resourceVersion } },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async readWebhookConfiguration(name: string): Promise<V1MutatingWebhookConfiguration | undefined> {
    try {
      return await kubeJson<V1MutatingWebhookConfiguration>(this.kubeConfig, {
        path: webhookConfigurationPath(name),
      });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  replaceWebhookConfiguration(body: V1MutatingWebhookConfiguration): Promise<V1MutatingWebhookConfiguration> {
    return kubeJson<V1MutatingWebhookConfiguration>(this.kubeConfig, {
      method: 'PUT',
      path: webhookConfigurationPath(body.metadata!.name!),
      body,
    });
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
      path: WEBHOOK_CONFIGURATIONS_PATH,
      query: { fieldSelector },
      ...handlers,
    });
  }
}
