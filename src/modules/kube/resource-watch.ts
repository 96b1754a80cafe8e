import { type KubeConfig } from '@kubernetes/client-node';
import { type WatchHandle, watchStream } from './kube-http';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface ResourceWatchOptions<T> {
  /** API path to watch, e.g. `/api/v1/namespaces/ns/secrets`. */
  path: string;
  /** Selectors etc., sent with both the list (by the caller) and the watch. */
  query?: Record<string, string>;
  /** Accept header of the watch (METADATA_ONLY_WATCH for metadata-only objects). */
  accept?: string;
  /** Lists the current objects; called at start and whenever the watch cannot resume (410 Gone, errors). */
  list: () => Promise<ListResult<T>>;
  /** The full current state after each (re)list: handlers reconcile against it, so nothing missed stays missed. */
  onSync: (items: T[]) => void | Promise<void>;
  onEvent: (type: WatchEventType, object: T) => void | Promise<void>;
  onError?: (error: unknown) => void;
  /** First retry delay after an error; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

interface KubeStatus {
  kind?: string;
  code?: number;
}

/**
 * List, then watch from the list's resourceVersion; resume from the last seen version when the server ends the
 * stream; list again on 410 Gone or any error, with exponential back-off. Never stops on its own: client-node's
 * informer stops for good on non-410 errors (LIBRARIES.md §2.3), which would silently freeze our view.
 */
export class ResourceWatch<T extends { metadata?: { resourceVersion?: string } }> {
  private stream: WatchHandle | undefined;
  private stopped = false;
  private resourceVersion: string | undefined;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private synced: (() => void) | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly options: ResourceWatchOptions<T>,
  ) {}

  /**
   * Lists and starts watching. A failed first list is retried like any other failure (the API server may come up
   * after us), so this never throws; the promise resolves after the first list was handed to onSync.
   */
  start(): Promise<void> {
    return new Promise((resolveSynced) => {
      this.synced = resolveSynced;
      this.relist().then(
        () => void this.watch(),
        (error: unknown) => {
          this.options.onError?.(error);
          this.retryAfterFailure(true);
        },
      );
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stream?.close();
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.options.list();
    this.resourceVersion = resourceVersion;
    await this.options.onSync(items);
    this.synced?.();
    this.synced = undefined;
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    let gone = false;
    let failed = false;
    try {
      await watchStream(
        this.kubeConfig,
        this.options.path,
        { ...this.options.query, resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true' },
        this.options.accept ?? 'application/json',
        (handle) => {
          this.stream = handle;
          if (this.stopped) handle.close();
        },
        (type, raw) => {
          const object = raw as T & KubeStatus;
          if (type === 'ERROR') {
            gone = object.code === 410;
            failed = !gone;
            if (failed)
              this.options.onError?.(new Error(`watch ${this.options.path}: ${JSON.stringify(object)}`));
            this.stream?.close();
            return;
          }
          const version = object.metadata?.resourceVersion;
          if (version !== undefined) this.resourceVersion = version;
          if (type === 'BOOKMARK') return;
          void Promise.resolve(this.options.onEvent(type as WatchEventType, object)).catch((error: unknown) =>
            this.options.onError?.(error),
          );
        },
      );
    } catch (error) {
      if (this.stopped) return;
      this.options.onError?.(error);
      failed = true;
    }
    if (this.stopped) return;
    if (gone || failed) {
      // 410 Gone, an error event or a broken stream: list again before watching (with back-off on errors).
      this.retryAfterFailure(true);
    } else {
      // The server ended the stream normally (its watch timeout): resume from the last version seen.
      this.failures = 0;
      void this.watch();
    }
  }

  private retryAfterFailure(relist: boolean): void {
    const base = this.options.backoffMs ?? 500;
    const delay = Math.min(base * 2 ** this.failures, this.options.maxBackoffMs ?? 30_000);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      if (this.stopped) return;
      const next = relist ? this.relist() : Promise.resolve();
      next.then(
        () => {
          this.failures = 0;
          void this.watch();
        },
        (error: unknown) => {
          this.options.onError?.(error);
          this.retryAfterFailure(true);
        },
      );
    }, delay);
  }
}
