import { Injectable } from '@nestjs/common';
import { type V1ConfigMap } from '@kubernetes/client-node';
import { KubeConnection } from './kube-connection';
import { type CollectionWatch, ResourceWatch, type WatchHandlers } from './resource-watch';

/** ConfigMaps, watched one by name. */
@Injectable()
export class ConfigMapRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  /** Lists then watches the one ConfigMap `name` in `namespace` (a field selector: the list has 0 or 1 item). */
  watchOne(namespace: string, name: string, handlers: WatchHandlers<V1ConfigMap>): CollectionWatch {
    return new ResourceWatch<V1ConfigMap>(this.kubeConfig, {
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      query: { fieldSelector: `metadata.name=${name}` },
      ...handlers,
    });
  }
}
