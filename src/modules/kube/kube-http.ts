import { type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import { type KubeClient, requestCredentials } from './kube-connection';
import { KubeApiError } from './kube-errors';
import { parseWithoutManagedFields } from './managed-fields';

/** Asks the API server for objects as metadata only (PartialObjectMetadata): no specs, no status. */
export const METADATA_ONLY =
  'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json';
export const METADATA_ONLY_WATCH =
  'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json';

/** The Content-Type of each patch flavour the API server takes. */
export const PatchType = {
  JsonPatch: 'application/json-patch+json',
  MergePatch: 'application/merge-patch+json',
  StrategicMergePatch: 'application/strategic-merge-patch+json',
  ServerSideApply: 'application/apply-patch+yaml',
} as const;

const PAGE_SIZE = 500;
/** One page of a list, request and body, must arrive within this; a hung list would keep /readyz false forever. */
const LIST_PAGE_TIMEOUT_MS = 60_000;
/** A single read or write (not a list page, not a watch) must be answered within this. */
const REQUEST_TIMEOUT_MS = 30_000;

function url(client: KubeClient, path: string, query: Record<string, string | undefined>): URL {
  const cluster = client.getCurrentCluster();
  if (!cluster) throw new Error('no current cluster in the kubeconfig');
  const target = new URL(cluster.server.replace(/\/$/, '') + path);
  for (const [key, value] of Object.entries(query))
    if (value !== undefined) target.searchParams.set(key, value);
  return target;
}

/** One API request. */
export interface KubeRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  accept?: string;
  /** Sent as JSON (patches too: a JSON patch, a merge patch and an apply patch are all JSON). */
  body?: unknown;
  /** application/json unless a patch type is given. */
  contentType?: string;
  signal?: AbortSignal;
}

/**
 * Sends one request over the client's agent, with its credentials, and resolves with the response once it is a 2xx;
 * any other status rejects with KubeApiError (its body read). The response body is left to the caller to read.
 */
export async function kubeRequest(client: KubeClient, options: KubeRequest): Promise<IncomingMessage> {
  const method = options.method ?? 'GET';
  const target = url(client, options.path, options.query ?? {});
  const { agent, headers } = await requestCredentials(client);
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(
      target,
      {
        method,
        agent,
        signal: options.signal,
        headers: {
          ...headers,
          accept: options.accept ?? 'application/json',
          ...(payload === undefined
            ? {}
            : {
                'content-type': options.contentType ?? 'application/json',
                'content-length': payload.length,
              }),
        },
      },
      resolve,
    );
    req.on('error', reject);
    req.end(payload);
  });
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    throw new KubeApiError(method, target.pathname, status, await readBody(response).catch(() => ''));
  }
  return response;
}

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One request whose answer is a JSON object (a read, a create, a replace, a patch, a delete's Status). */
export async function kubeJson<T>(client: KubeClient, options: KubeRequest): Promise<T> {
  const signal = options.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const response = await kubeRequest(client, { ...options, signal });
  const text = await readBody(response);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

/**
 * Lists every object of a collection in pages of 500 (one consistent snapshot: later pages use the continue token),
 * with an Accept header of the caller's choice (METADATA_ONLY to skip specs). Items come without managedFields
 * (dropped before parsing: see withoutManagedFields). `keep` reduces each object as its page arrives, so a large list
 * never holds more than one page of full objects.
 */
export async function listAll<T>(
  client: KubeClient,
  path: string,
  query: Record<string, string | undefined> = {},
  accept = 'application/json',
  keep: (item: T) => T = (item) => item,
): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let continueToken: string | undefined;
  let resourceVersion = '';
  do {
    const response = await kubeRequest(client, {
      path,
      query: { ...query, limit: String(PAGE_SIZE), continue: continueToken },
      accept,
      signal: AbortSignal.timeout(LIST_PAGE_TIMEOUT_MS),
    });
    const page = parseWithoutManagedFields(await readBody(response)) as {
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
  client: KubeClient,
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
    const response = await kubeRequest(client, {
      path,
      query: { ...query, watch: 'true', timeoutSeconds: String(timeoutSeconds) },
      accept,
      signal: controller.signal,
    });
    const decoder = new StringDecoder('utf8');
    let partial = '';
    for await (const chunk of response as AsyncIterable<Buffer>) {
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
