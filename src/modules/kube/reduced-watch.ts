import { type KubeClient } from './kube-connection';
import { isNotFound } from './kube-errors';
import { listAll } from './kube-http';
import {
  type CollectionWatch,
  type KubeObject,
  type ListResult,
  ResourceWatch,
  type WatchHandlers,
} from './resource-watch';

/** A watch whose objects are reduced, as they arrive, to what the caller keeps. */
export interface ReducedWatchOptions<T extends KubeObject> extends WatchHandlers<T> {
  /** Applied to every listed object (page by page) and every watched one; must keep metadata.resourceVersion. */
  reduce: (object: KubeObject) => T;
  /**
   * Wraps every full list (the first and each relist), e.g. to know when one is in flight. onSync follows a wrapped
   * list that resolved without `absent`; nothing follows one that rejected or found the collection absent.
   */
  aroundList?: (list: () => Promise<ListResult<T>>) => Promise<ListResult<T>>;
}

/** Builds the ResourceWatch behind a repository's reduced watch of one collection. */
export function reducedWatch<T extends KubeObject>(
  kubeConfig: KubeClient,
  collection: { path: string; query?: Record<string, string>; accept?: string; absentPollMs?: number },
  list: () => Promise<ListResult<T>>,
  options: ReducedWatchOptions<T>,
): CollectionWatch {
  const { reduce, aroundList = (run) => run() } = options;
  return new ResourceWatch<T>(kubeConfig, {
    path: collection.path,
    query: collection.query,
    accept: collection.accept,
    absentPollMs: collection.absentPollMs,
    list: () => aroundList(list),
    onSync: options.onSync,
    onEvent: (type, object) => options.onEvent(type, reduce(object)),
    onError: options.onError,
  });
}

/**
 * Every object of a collection that may not be served (a custom resource whose CRD is not installed), reduced as
 * each page arrives; `absent` when the API server answers 404 for the collection.
 */
export async function listOptional<T extends KubeObject>(
  client: KubeClient,
  path: string,
  reduce: (object: KubeObject) => T,
): Promise<ListResult<T>> {
  try {
    return await listAll<T>(client, path, {}, undefined, reduce);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    return { items: [], resourceVersion: '', absent: true };
  }
}
