import { Injectable } from '@nestjs/common';
import { KubeConnection } from './kube-connection';
import { METADATA_ONLY, METADATA_ONLY_WATCH, listAll } from './kube-http';
import { type ReducedWatchOptions, reducedWatch } from './reduced-watch';
import { type CollectionWatch, type KubeObject, type ListResult } from './resource-watch';

/** The pods collection, cluster-wide or in one namespace. */
function podsPath(namespace?: string): string {
  return namespace === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${namespace}/pods`;
}

/**
 * Selects the pods in phase Running. Sent with the watch too, so a pod that leaves Running comes as DELETED (it no
 * longer matches), and a pod that becomes Running as ADDED.
 */
const RUNNING_PODS = { fieldSelector: 'status.phase=Running' };

/**
 * Pods, read as metadata only (no specs, no status: a pod's MACs are in its annotations), each reduced by the
 * caller's callback as it arrives, so 100k pods never mean 100k full objects in memory.
 */
@Injectable()
export class PodRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  /** Every pod of the cluster (namespace undefined) or of one namespace, in one consistent snapshot. */
  list<T extends KubeObject>(
    namespace: string | undefined,
    reduce: (pod: KubeObject) => T,
    query: Record<string, string> = {},
  ): Promise<ListResult<T>> {
    return listAll<T>(this.kubeConfig, podsPath(namespace), query, METADATA_ONLY, reduce);
  }

  /** Lists then watches every pod of the cluster; resumes and relists on its own until stopped. */
  watch<T extends KubeObject>(options: ReducedWatchOptions<T>): CollectionWatch {
    return reducedWatch(
      this.kubeConfig,
      { path: podsPath(), accept: METADATA_ONLY_WATCH },
      () => this.list(undefined, options.reduce),
      options,
    );
  }

  /**
   * Lists then watches the Running pods of the cluster (metadata only: the phase is the selector's), so pods that
   * are pending or finished cost nothing; resumes and relists on its own until stopped.
   */
  watchRunning<T extends KubeObject>(options: ReducedWatchOptions<T>): CollectionWatch {
    return reducedWatch(
      this.kubeConfig,
      { path: podsPath(), query: RUNNING_PODS, accept: METADATA_ONLY_WATCH },
      () => this.list(undefined, options.reduce, RUNNING_PODS),
      options,
    );
  }
}
