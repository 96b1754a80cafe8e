import { Injectable } from '@nestjs/common';
import { type V1MutatingWebhookConfiguration, type V1Namespace } from '@kubernetes/client-node';
import { KubeConnection } from '../kube/kube-connection';
import { type CollectionWatch, ResourceWatch, type WatchHandlers } from '../kube/resource-watch';

/** The two collections the namespace scope is computed from: namespaces (their labels) and the webhook configuration. */
@Injectable()
export class NamespaceScopeRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  /** Lists then watches every namespace. */
  watchNamespaces(handlers: WatchHandlers<V1Namespace>): CollectionWatch {
    return new ResourceWatch<V1Namespace>(this.kubeConfig, { path: '/api/v1/namespaces', ...handlers });
  }

  /** Lists then watches the one MutatingWebhookConfiguration `name` (the list has 0 or 1 item). */
  watchWebhookConfiguration(
    name: string,
    handlers: WatchHandlers<V1MutatingWebhookConfiguration>,
  ): CollectionWatch {
    return new ResourceWatch<V1MutatingWebhookConfiguration>(this.kubeConfig, {
      path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      query: { fieldSelector: `metadata.name=${name}` },
      ...handlers,
    });
  }
}
