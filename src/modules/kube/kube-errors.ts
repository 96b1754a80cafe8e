/** A Kubernetes Status body, as the API server sends with every error. */
interface KubeStatusBody {
  message?: string;
  reason?: string;
}

function parseStatus(body: string): KubeStatusBody | undefined {
  try {
    const status = JSON.parse(body) as unknown;
    return typeof status === 'object' && status !== null ? (status as KubeStatusBody) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An API server answer that is not a success: the HTTP status in `code` (as client-node's ApiException has it), the
 * raw body, and the Status's reason (NotFound, Conflict, AlreadyExists, Invalid, …). The message names the request,
 * so the object it was about: `PATCH /apis/kubevirt.io/v1/namespaces/ns/virtualmachines/vm: HTTP 422 <message>`.
 */
export class KubeApiError extends Error {
  readonly reason: string | undefined;
  /** The Status's message, or the raw body when it is not a Status. */
  readonly statusMessage: string;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly code: number,
    readonly body: string,
  ) {
    const status = parseStatus(body);
    const statusMessage = status?.message ?? body;
    super(`${method} ${path}: HTTP ${code} ${statusMessage}`);
    this.name = 'KubeApiError';
    this.reason = status?.reason;
    this.statusMessage = statusMessage;
  }
}

/**
 * The HTTP status of an API error: KubeApiError's `code`, or the `code` of any error that carries a numeric one
 * (client-node's ApiException does, for tests and scripts that use client-node's API classes).
 */
export function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return statusCode(error) === 404;
}

/** 409: the object changed since we read it (Conflict) or already exists (AlreadyExists). */
export function isConflict(error: unknown): boolean {
  return statusCode(error) === 409;
}

/** A short description of an API error for logs: status code and the apiserver's message, never the request. */
export function describeError(error: unknown): string {
  if (error instanceof KubeApiError) return `HTTP ${error.code}: ${error.statusMessage}`;
  const { code, body } = (error ?? {}) as { code?: unknown; body?: unknown };
  if (typeof code === 'number' && body !== undefined) {
    // client-node's ApiException: the Status arrives as the raw body.
    const text = String(body);
    return `HTTP ${code}: ${parseStatus(text)?.message ?? text}`;
  }
  return error instanceof Error ? error.message : String(error);
}
