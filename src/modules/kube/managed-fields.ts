import {
  BACKSLASH,
  CLOSE_BRACE,
  CLOSE_BRACKET,
  COMMA,
  OPEN_BRACE,
  OPEN_BRACKET,
  QUOTE,
  isJsonSpace,
} from '../../common/json-text';

const KEY = '"managedFields":';

/** Whether the quote at `at` is escaped (an odd run of backslashes before it): then it is inside a string. */
function escaped(text: string, at: number): boolean {
  let backslashes = 0;
  for (let i = at - 1; i >= 0 && text.charCodeAt(i) === BACKSLASH; i--) backslashes++;
  return backslashes % 2 === 1;
}

/** The index just past the JSON array that opens at `open`, or -1 when it does not close. */
function endOfArray(text: string, open: number): number {
  let depth = 0;
  let inString = false;
  for (let i = open; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) {
      inString = true;
    } else if (code === OPEN_BRACKET || code === OPEN_BRACE) {
      depth++;
    } else if ((code === CLOSE_BRACKET || code === CLOSE_BRACE) && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * The JSON text of a list without its `managedFields` arrays, for JSON.parse. They are two thirds of a pod's metadata
 * as the API server sends it, and nothing here reads them: parsing them only to drop each item's copy costs time and
 * garbage when a list of 10,000 pods arrives at start. Returns `text` itself when there is nothing to drop.
 *
 * The key `"managedFields":` with an unescaped opening quote can only be an object key (inside a string every quote
 * is escaped), and its array is skipped string-aware, so values that contain the word are untouched. Whatever is not
 * an array after the key is left as it is; a text that does not close is returned unchanged for JSON.parse to judge.
 */
export function withoutManagedFields(text: string): string {
  let at = text.indexOf(KEY);
  if (at < 0) return text;
  const kept: string[] = [];
  let from = 0;
  for (; at >= 0; at = text.indexOf(KEY, at + 1)) {
    if (at < from || escaped(text, at)) continue;
    let open = at + KEY.length;
    while (isJsonSpace(text.charCodeAt(open))) open++;
    if (text.charCodeAt(open) !== OPEN_BRACKET) continue;
    let end = endOfArray(text, open);
    if (end < 0) return text;
    // Drop one comma next to the member: the one after it, else the one before it (it was the last member).
    let start = at;
    let after = end;
    while (isJsonSpace(text.charCodeAt(after))) after++;
    if (text.charCodeAt(after) === COMMA) {
      end = after + 1;
    } else {
      let before = at - 1;
      while (before >= 0 && isJsonSpace(text.charCodeAt(before))) before--;
      if (text.charCodeAt(before) === COMMA) start = before;
    }
    kept.push(text.slice(from, start));
    from = end;
    at = end - 1;
  }
  if (from === 0) return text;
  kept.push(text.slice(from));
  return kept.join('');
}

/**
 * JSON.parse of a list's text without its managedFields (see withoutManagedFields); should the shortened text not
 * parse (a text the scan was not written for, such as an object with the key twice), the text as sent is parsed.
 */
export function parseWithoutManagedFields(text: string): unknown {
  const shortened = withoutManagedFields(text);
  if (shortened === text) return JSON.parse(text);
  try {
    return JSON.parse(shortened);
  } catch {
    return JSON.parse(text);
  }
}
