import { type V1ObjectMeta } from '@kubernetes/client-node';
import { type KubeClient } from './kube-connection';
import { statusCode } from './kube-errors';
import { type WatchHandle, listAll, watchStream } from './kube-http';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
  /**
   * The collection does not exist (its CRD is not installed): there is nothing to watch, and the list is tried again
   * every `absentPollMs`. onSync is not called — an absent collection says nothing about objects seen before (their
   * deletion came as DELETED events) — but the first sync counts as done.
   */
  absent?: boolean;
}

/** The part every listed or watched object has; repositories reduce objects to it plus what their callers read. */
export interface KubeObject {
  metadata?: V1ObjectMeta;
}

/** What a repository's watch reports to: the full state after each (re)list, then each change. */
export interface WatchHandlers<T> {
  onSync: (items: T[]) => void | Promise<void>;
  onEvent: (type: WatchEventType, object: T) => void | Promise<void>;
  onError?: (error: unknown) => void;
}

/** A list-then-watch a repository hands out, not running until started. */
export interface CollectionWatch {
  /** Resolves once the first list was handed to onSync (or the collection was found absent). */
  start(): Promise<void>;
  stop(): void;
}

export interface ResourceWatchOptions<T> {
  /** API path to watch, e.g. `/api/v1/namespaces/ns/secrets`. */
  path: string;
  /** Selectors etc., sent with both the list and the watch. */
  query?: Record<string, string>;
  /** Accept header of the watch (METADATA_ONLY_WATCH for metadata-only objects). */
  accept?: string;
  /**
   * Lists the current objects; called at start and whenever the watch cannot resume (410 Gone, errors). By default
   * listAll of `path` with `query` (pages of 500, each within a timeout).
   */
  list?: () => Promise<ListResult<T>>;
  /** The full current state after each (re)list: handlers reconcile against it, so nothing missed stays missed. */
  onSync: (items: T[]) => void | Promise<void>;
  onEvent: (type: WatchEventType, object: T) => void | Promise<void>;
  onError?: (error: unknown) => void;
  /** First retry delay after an error; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How often an absent collection is listed again (30 s). */
  absentPollMs?: number;
  /** Passed to watchStream (tests): the server-side timeout of each watch and the grace before a stall is declared. */
  watchTimeoutSeconds?: number;
  stallGraceMs?: number;
}

interface KubeStatus {
  kind?: string;
  code?: number;
}

/** How a watch stream ended. */
type WatchOutcome = 'ended' | 'gone' | 'failed';

/** A stream that ends sooner than this after opening counts as a failure, so a misbehaving server is not hammered. */
const MIN_HEALTHY_STREAM_MS = 1_000;

/**
 * List, then watch from the list's resourceVersion, like client-go's reflector. When the server ends the stream
 * (its timeout) or the connection breaks, watch again from the last version seen; list again on 410 Gone, an ERROR
 * event, or an HTTP error; retry failures with exponential back-off. Never stops on its own: client-node's informer
 * stops for good on non-410 errors (client-node 1.4's ListWatch does), which would silently freeze our view.
 */
export class ResourceWatch<T extends { metadata?: { resourceVersion?: string } }> implements CollectionWatch {
  private stream: WatchHandle | undefined;
  private stopped = false;
  private resourceVersion = '';
  private failures = 0;
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private synced: (() => void) | undefined;

  constructor(
    private readonly kubeConfig: KubeClient,
    private readonly options: ResourceWatchOptions<T>,
  ) {}

  /**
   * Lists and starts watching. A failed first list is retried like any other failure (the API server may come up
   * after us), so this never throws; the promise resolves after the first list was handed to onSync.
   */
  start(): Promise<void> {
    return new Promise((resolveSynced) => {
      this.synced = resolveSynced;
      void this.run();
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.sleepTimer);
    this.wake?.();
    this.stream?.close();
  }

  private async run(): Promise<void> {
    let listNeeded = true;
    while (!this.stopped) {
      try {
        if (listNeeded) {
          const absent = await this.relist();
          if (absent) {
            await this.sleep(this.options.absentPollMs ?? 30_000);
            continue;
          }
          listNeeded = false;
        }
        const opened = Date.now();
        const { outcome, delivered } = await this.watchOnce();
        // Only a stream that delivered something or lasted resets the back-off: a watch failing right after each
        // good list must not turn into a list of the whole cluster twice a second.
        const healthy = delivered || Date.now() - opened >= MIN_HEALTHY_STREAM_MS;
        if (healthy) this.failures = 0;
        if (outcome !== 'ended') listNeeded = true; // 410 Gone or an ERROR event: list again
        if (outcome === 'failed' || !healthy) await this.backOff();
      } catch (error) {
        if (this.stopped) return;
        this.options.onError?.(error);
        // An HTTP error (403, 404, 500…) may mean our view is wrong: list again. A broken connection resumes.
        if (statusCode(error) !== undefined) listNeeded = true;
        await this.backOff();
      }
    }
  }

  /** Lists and hands the result to onSync; returns true when the collection does not exist. */
  private async relist(): Promise<boolean> {
    const list: () => Promise<ListResult<T>> =
      this.options.list ?? (() => listAll<T>(this.kubeConfig, this.options.path, this.options.query));
    const { items, resourceVersion, absent = false } = await list();
    if (this.stopped) return false;
    if (!absent) {
      this.resourceVersion = resourceVersion;
      await this.options.onSync(items);
    }
    this.synced?.();
    this.synced = undefined;
    return absent;
  }

  private async watchOnce(): Promise<{ outcome: WatchOutcome; delivered: boolean }> {
    let outcome: WatchOutcome = 'ended';
    let delivered = false;
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
        if (outcome !== 'ended') return;
        const object = raw as T & KubeStatus;
        if (type === 'ERROR') {
          outcome = object.code === 410 ? 'gone' : 'failed';
          if (outcome === 'failed')
            this.options.onError?.(new Error(`watch ${this.options.path}: ${JSON.stringify(object)}`));
          this.stream?.close();
          return;
        }
        delivered = true;
        const version = object.metadata?.resourceVersion;
        if (version !== undefined) this.resourceVersion = version;
        if (type === 'BOOKMARK') return;
        try {
          void Promise.resolve(this.options.onEvent(type as WatchEventType, object)).catch((error: unknown) =>
            this.options.onError?.(error),
          );
        } catch (error) {
          this.options.onError?.(error);
        }
      },
      this.options.watchTimeoutSeconds,
      this.options.stallGraceMs,
    );
    return { outcome, delivered };
  }

  private backOff(): Promise<void> {
    const base = this.options.backoffMs ?? 500;
    const delay = Math.min(base * 2 ** this.failures, this.options.maxBackoffMs ?? 30_000);
    this.failures++;
    return this.sleep(delay);
  }

  /** A delay that stop() cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }
}
