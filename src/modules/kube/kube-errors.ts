import { ApiException } from '@kubernetes/client-node';

/** The HTTP status of a client-node error (1.x puts it in `code`; untyped statuses come with a raw body). */
export function statusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
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
  if (error instanceof ApiException) {
    let message = String(error.body);
    try {
      message = (JSON.parse(String(error.body)) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the raw body
    }
    return `HTTP ${error.code}: ${message}`;
  }
  return error instanceof Error ? error.message : String(error);
}
