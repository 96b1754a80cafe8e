/** One RFC 6902 operation. Only `add` is used: it creates a member or replaces an existing one. */
export interface JsonPatchAdd {
  op: 'add';
  path: string;
  value: unknown;
}

/** Escapes one JSON-Pointer token (RFC 6901): `~` → `~0`, `/` → `~1`. */
export function escapePointerToken(token: string): string {
  // Tokens are field names and indexes, which almost never need escaping; a regular-expression replace() costs
  // (time and garbage) even when nothing matches, and patches are built on every admission.
  if (!token.includes('~') && !token.includes('/')) return token;
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A JSON Pointer from unescaped tokens. */
export function pointer(...tokens: (string | number)[]): string {
  return tokens.map((t) => `/${escapePointerToken(String(t))}`).join('');
}

/**
 * Sets one annotation. An object without annotations (or with an empty map, which the API server drops before
 * patching) gets the whole map in one `add`, since `add` needs the parent to exist.
 */
export function addAnnotation(
  annotations: Record<string, unknown> | undefined,
  key: string,
  value: string,
): JsonPatchAdd {
  if (annotations === undefined || Object.keys(annotations).length === 0) {
    return { op: 'add', path: '/metadata/annotations', value: { [key]: value } };
  }
  return { op: 'add', path: pointer('metadata', 'annotations', key), value };
}
