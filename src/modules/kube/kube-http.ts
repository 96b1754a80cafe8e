import { type KubeConfig } from '@kubernetes/client-node';
import { StringDecoder } from 'node:string_decoder';
import fetch, { Headers } from 'node-fetch';

/** Asks the API server for objects as metadata only (PartialObjectMetadata): no specs, no status. */
export const METADATA_ONLY =
  'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json';
export const METADATA_ONLY_WATCH =
  'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json';

const PAGE_SIZE = 500;
/** One page of a list, request and body, must arrive within this; a hung list would keep /readyz false forever. */
const LIST_PAGE_TIMEOUT_MS = 60_000;

function url(kubeConfig: KubeConfig, path: string, query: Record<string, string | undefined>): URL {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the kubeconfig');
  const target = new URL(cluster.server.replace(/\/$/, '') + path);
  for (const [key, value] of Object.entries(query))
    if (value !== undefined) target.searchParams.set(key, value);
  return target;
}

async function request(kubeConfig: KubeConfig, target: URL, accept: string, signal: AbortSignal) {
  const init = await kubeConfig.applyToFetchOptions({});
  // client-node hands back a Headers object (the bearer token is in it): copy it, do not spread it.
  const headers = new Headers(init.headers as never);
  headers.set('Accept', accept);
  const response = await fetch(target.toString(), { ...init, method: 'GET', headers, signal } as never);
  if (response.status !== 200) {
    const error = new Error(`GET ${target.pathname}: HTTP ${response.status} ${await response.text()}`);
    (error as Error & { code: number }).code = response.status;
    throw error;
  }
  return response;
}

/**
 * Lists every object of a collection in pages of 500 (one consistent snapshot: later pages use the continue token),
 * with an Accept header of the caller's choice (METADATA_ONLY to skip specs). `keep` reduces each object as its
 * page arrives, so a large list never holds more than one page of full objects (managedFields and all).
 */
export async function listAll<T>(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string | undefined> = {},
  accept = 'application/json',
  keep: (item: T) => T = (item) => item,
): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let continueToken: string | undefined;
  let resourceVersion = '';
  do {
    const response = await request(
      kubeConfig,
      url(kubeConfig, path, { ...query, limit: String(PAGE_SIZE), continue: continueToken }),
      accept,
      AbortSignal.timeout(LIST_PAGE_TIMEOUT_MS),
    );
    const page = (await response.json()) as {
      items?: T[];
      metadata?: { continue?: string; resourceVersion?: string };
    };
    for (const item of page.items ?? []) items.push(keep(item));
    continueToken = page.metadata?.continue || undefined;
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
  } while (continueToken !== undefined);
  return { items, resourceVersion };
}

/** A running watch stream; close() ends it (the promise of watchStream then resolves). */
export interface WatchHandle {
  close(): void;
}

/** How long the server may keep one watch open (client-go's range: 5 to 10 minutes, spread so watches do not align). */
export function watchTimeoutSeconds(random: () => number = Math.random): number {
  return 300 + Math.floor(random() * 300);
}

/** Grace beyond the requested timeout before a silent stream counts as stalled (a half-open connection). */
const STALL_GRACE_MS = 30_000;

/**
 * Opens a watch stream and calls `onEvent` per line. Resolves when the server ends the stream or close() was called;
 * rejects on HTTP or network errors (a reset connection included), and when the stream outlives the requested
 * `timeoutSeconds` by STALL_GRACE_MS (the server always ends it by then, so silence means the connection is dead).
 * Like client-node's Watch, but with the Accept header under our control (metadata-only watches). `onOpen` receives
 * the handle before the request is sent, so close() also cancels a watch still connecting.
 */
export async function watchStream(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string | undefined>,
  accept: string,
  onOpen: (handle: WatchHandle) => void,
  onEvent: (type: string, object: unknown) => void,
  timeoutSeconds = watchTimeoutSeconds(),
  graceMs = STALL_GRACE_MS,
): Promise<void> {
  const controller = new AbortController();
  let closed = false;
  let stalled = false;
  const deadline = setTimeout(
    () => {
      stalled = true;
      controller.abort();
    },
    timeoutSeconds * 1000 + graceMs,
  );
  onOpen({
    close: () => {
      closed = true;
      controller.abort();
    },
  });
  try {
    const target = url(kubeConfig, path, { ...query, watch: 'true', timeoutSeconds: String(timeoutSeconds) });
    const response = await request(kubeConfig, target, accept, controller.signal);
    const decoder = new StringDecoder('utf8');
    let partial = '';
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      const lines = (partial + decoder.write(chunk)).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const event = parseEvent(line);
        if (event !== undefined) onEvent(event.type, event.object);
      }
    }
  } catch (error) {
    if (closed) return;
    if (stalled)
      throw new Error(`watch ${path}: no end of stream ${timeoutSeconds} s + ${graceMs} ms after it opened`, {
        cause: error,
      });
    throw error;
  } finally {
    clearTimeout(deadline);
  }
}

function parseEvent(line: string): { type: string; object: unknown } | undefined {
  if (line.trim().length === 0) return undefined;
  try {
    const event = JSON.parse(line) as { type?: unknown; object?: unknown };
    return typeof event.type === 'string' ? { type: event.type, object: event.object } : undefined;
  } catch {
    return undefined;
  }
}
