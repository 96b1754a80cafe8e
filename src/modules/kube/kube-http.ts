import { type KubeConfig } from '@kubernetes/client-node';
import { createInterface } from 'node:readline';
import fetch, { Headers } from 'node-fetch';

/** Asks the API server for objects as metadata only (PartialObjectMetadata): no specs, no status. */
export const METADATA_ONLY =
  'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json';
export const METADATA_ONLY_WATCH =
  'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json';

const PAGE_SIZE = 500;

function url(kubeConfig: KubeConfig, path: string, query: Record<string, string | undefined>): URL {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the kubeconfig');
  const target = new URL(cluster.server.replace(/\/$/, '') + path);
  for (const [key, value] of Object.entries(query))
    if (value !== undefined) target.searchParams.set(key, value);
  return target;
}

async function request(kubeConfig: KubeConfig, target: URL, accept: string) {
  const init = await kubeConfig.applyToFetchOptions({});
  // client-node hands back a Headers object (the bearer token is in it): copy it, do not spread it.
  const headers = new Headers(init.headers as never);
  headers.set('Accept', accept);
  const response = await fetch(target.toString(), { ...init, method: 'GET', headers } as never);
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

/**
 * Opens a watch stream and calls `onEvent` per line; resolves when the stream ends or is closed, rejects on HTTP
 * or network errors. Like client-node's Watch, but with the Accept header under our control (metadata-only
 * watches). `onOpen` receives the handle as soon as the stream is open.
 */
export async function watchStream(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string | undefined>,
  accept: string,
  onOpen: (handle: WatchHandle) => void,
  onEvent: (type: string, object: unknown) => void,
): Promise<void> {
  const response = await request(kubeConfig, url(kubeConfig, path, { ...query, watch: 'true' }), accept);
  const body = response.body as NodeJS.ReadableStream & { destroy(): void };
  const lines = createInterface({ input: body, crlfDelay: Infinity });
  await new Promise<void>((resolve, reject) => {
    body.on('error', reject);
    lines.on('close', resolve);
    lines.on('line', (line) => {
      if (line.length === 0) return;
      let event: { type: string; object: unknown };
      try {
        event = JSON.parse(line) as { type: string; object: unknown };
      } catch {
        return;
      }
      onEvent(event.type, event.object);
    });
    onOpen({ close: () => body.destroy() });
  });
}
