/** A plain JSON object (not null, not an array): what Kubernetes objects and their nested fields are read as. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
