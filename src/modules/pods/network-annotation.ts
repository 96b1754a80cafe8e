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

/** Pod annotation listing the Multus secondary networks; the webhook writes the MACs it picks back into it. */
export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

/** Pod annotation Multus writes after attaching the networks; a pod carrying it has already been wired. */
export const NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';

/** The most networks one annotation may list: it bounds the per-element work done on text the user controls. */
export const MAX_NETWORKS = 1000;

/** How the annotation was written: a JSON list of selection elements, or the Multus short form `ns/net@eth1,net2`. */
export type AnnotationFormat = 'json' | 'short';

/** One requested secondary network, with the fields the MAC pool needs read the way Multus reads them. */
export interface NetworkSelection {
  /** The NetworkAttachmentDefinition name. */
  readonly name: string;
  /** The NetworkAttachmentDefinition namespace when written and non-empty; Multus uses the pod's otherwise. */
  readonly namespace?: string;
  /** The requested interface: `interface`, or the deprecated `interfaceRequest` when that is empty (Multus' rule). */
  readonly interface?: string;
  /** The requested MAC exactly as written, not validated; absent when missing or empty, which asks for one. */
  readonly mac?: string;
  /** The element as JSON.parse reads it, unknown fields included; for the short form, the fields the entry names. */
  readonly raw: Readonly<Record<string, unknown>>;
  /**
   * The element's JSON text as written minus insignificant whitespace (JSON form only). Serialisation copies it, so
   * key order, duplicate keys, escapes and number spellings survive; a JSON.parse/JSON.stringify round trip would
   * move integer-like keys first and round integers beyond 2^53.
   */
  readonly source?: string;
}

/** A parsed networks annotation: the networks in the order written, and the form they were written in. */
export interface ParsedNetworks {
  /** `short` also for an empty or blank value, which lists no networks. */
  readonly format: AnnotationFormat;
  readonly networks: readonly NetworkSelection[];
}

/** The networks annotation cannot be read; the message names the network, the field and the value at fault. */
export class NetworkAnnotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetworkAnnotationError';
  }
}

// Upstream's wording, kept so that messages users and tooling already match on stay the same.
const JSON_ERROR_PREFIX =
  'parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: ';
const SHORT_FORM_SYNTAX = '[<namespace>/]<name>[@<interface>]';
const PREVIEW_LENGTH = 80;

// Kubernetes naming rules: namespaces are DNS-1123 labels, NetworkAttachmentDefinition names DNS-1123 subdomains.
// A name breaking them cannot refer to any object, so the pod is refused here with a clear message rather than
// failing later inside Multus.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const INTERFACE_NAME = /^[^\s/@]+$/;

type FieldType = 'string' | 'string array' | 'object array' | 'object';

const EXPECTED: Record<FieldType, string> = {
  string: 'a string',
  'string array': 'an array of strings',
  'object array': 'an array of objects',
  object: 'an object',
};

// Multus' NetworkSelectionElement (v3.9.3), which upstream and Multus decode with Go's encoding/json. Go matches
// keys case-insensitively, so `"MAC"` sets the MAC for Multus too and must be read (and replaced) as one. A Map,
// never a plain object, so that keys such as `__proto__` or `constructor` cannot hit Object.prototype.
const KNOWN_FIELDS = new Map<string, { name: string; type: FieldType }>(
  (
    [
      ['name', 'string'],
      ['namespace', 'string'],
      ['ips', 'string array'],
      ['mac', 'string'],
      ['infiniband-guid', 'string'],
      ['interface', 'string'],
      ['interfaceRequest', 'string'],
      ['portMappings', 'object array'],
      ['bandwidth', 'object'],
      ['deviceID', 'string'],
      ['cni-args', 'object'],
      ['default-route', 'string array'],
    ] as const
  ).map(([name, type]) => [foldKey(name), { name, type }]),
);
const LONGEST_KNOWN_FIELD = Math.max(...[...KNOWN_FIELDS.keys()].map((key) => key.length));

/**
 * Parses the value of the Multus networks annotation. A value containing `[`, `{` or `"` is a JSON list of
 * NetworkSelectionElements (upstream's rule); anything else is the comma-separated short form. A blank value lists
 * no networks. Requested MACs are returned as written: callers parse them and report errors with their context.
 * Throws only NetworkAnnotationError, whatever the input.
 */
export function parseNetworksAnnotation(value: string): ParsedNetworks {
  if (typeof value !== 'string') {
    throw new NetworkAnnotationError(`annotation value must be a string, got ${typeof value}`);
  }
  const text = value.trim();
  if (text === '') return { format: 'short', networks: [] };
  return /[[{"]/.test(text) ? parseJsonForm(text) : parseShortForm(text);
}

/**
 * Serialises the networks as a compact JSON list, setting the MACs in `macs` (network index → normalised MAC).
 * A JSON-form element keeps every field it had, in its order, with each `mac` key's value replaced in place or
 * `"mac"` appended when it had none. Elements without `source` (the short form, which cannot carry a MAC) are
 * written as `{"name","namespace","interface","mac"}` with only the fields that are set. The output is compact even
 * when nothing changed, so callers decide from `macs`, not from comparing strings, whether to patch.
 * Throws RangeError for an index that names no network: that is a bug in the caller, not bad user input.
 */
export function serializeNetworks(parsed: ParsedNetworks, macs: ReadonlyMap<number, string>): string {
  const count = parsed.networks.length;
  for (const index of macs.keys()) {
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new RangeError(`no network ${index} to set a MAC on: the annotation lists ${count}`);
    }
  }
  const elements = parsed.networks.map((network, index) => {
    const mac = macs.get(index);
    if (network.source !== undefined) {
      return mac === undefined ? network.source : withMac(network.source, mac);
    }
    const element: Record<string, string> = { name: network.name };
    if (network.namespace !== undefined) element.namespace = network.namespace;
    if (network.interface !== undefined) element.interface = network.interface;
    const effectiveMac = mac ?? network.mac;
    if (effectiveMac !== undefined) element.mac = effectiveMac;
    return JSON.stringify(element);
  });
  return `[${elements.join(',')}]`;
}

function parseJsonForm(text: string): ParsedNetworks {
  let list: unknown;
  try {
    // V8's JSON.parse is iterative, so deeply nested input cannot overflow the stack here.
    list = JSON.parse(text);
  } catch (error) {
    throw new NetworkAnnotationError(
      JSON_ERROR_PREFIX + (error instanceof Error ? error.message : String(error)),
    );
  }
  if (!Array.isArray(list)) {
    const hint = isJsonObject(list) ? ' (a single network is still written as a list: [{"name":...}])' : '';
    throw new NetworkAnnotationError(
      `${JSON_ERROR_PREFIX}expected a JSON list of network selection elements, got ${describeJson(list)}${hint}`,
    );
  }
  checkCount(list.length);
  // The text is valid JSON from here on, which is all the scanners below rely on.
  const sources = splitTopLevel(compactJson(text));
  return {
    format: 'json',
    networks: sources.map((source, index) => readJsonElement(source, list[index], index)),
  };
}

function readJsonElement(source: string, parsed: unknown, index: number): NetworkSelection {
  if (!isJsonObject(parsed)) {
    throw new NetworkAnnotationError(`network ${index}: must be a JSON object, got ${preview(source)}`);
  }
  // Go semantics: the last occurrence of a key wins and null leaves the field unset.
  const values = new Map<string, unknown>();
  for (const member of splitTopLevel(source)) {
    const { key, valueStart } = splitMember(member);
    const field = key.length <= LONGEST_KNOWN_FIELD ? KNOWN_FIELDS.get(foldKey(key)) : undefined;
    if (field === undefined) continue;
    const valueText = member.slice(valueStart);
    const value: unknown = JSON.parse(valueText);
    if (value === null) continue;
    if (!hasType(value, field.type)) {
      throw new NetworkAnnotationError(
        `network ${index}: ${JSON.stringify(key)} must be ${EXPECTED[field.type]}, got ${preview(valueText)}`,
      );
    }
    values.set(field.name, value);
  }
  const name = values.get('name') as string | undefined;
  if (name === undefined) throw new NetworkAnnotationError(`network ${index}: "name" is required`);
  if (name === '') throw new NetworkAnnotationError(`network ${index}: "name" must not be empty`);
  return {
    name,
    namespace: nonEmpty(values.get('namespace')),
    interface: nonEmpty(values.get('interface')) ?? nonEmpty(values.get('interfaceRequest')),
    mac: nonEmpty(values.get('mac')),
    raw: parsed,
    source,
  };
}

function parseShortForm(text: string): ParsedNetworks {
  let count = 1;
  for (let comma = text.indexOf(','); comma !== -1; comma = text.indexOf(',', comma + 1)) count++;
  checkCount(count);
  return { format: 'short', networks: text.split(',').map(readShortEntry) };
}

// Multus' parsePodNetworkObjectName, stricter where its result could not name an object: each part is trimmed as
// Multus does, but an empty entry, namespace or interface is an error instead of silently meaning "none".
function readShortEntry(written: string, index: number): NetworkSelection {
  const entry = written.trim();
  if (entry === '') {
    throw new NetworkAnnotationError(`network ${index}: empty entry, expected ${SHORT_FORM_SYNTAX}`);
  }
  const context = `network ${index} ${quote(entry)}`;
  const atParts = entry.split('@');
  if (atParts.length > 2) {
    throw new NetworkAnnotationError(`${context}: more than one '@', expected ${SHORT_FORM_SYNTAX}`);
  }
  const slashParts = atParts[0].split('/');
  if (slashParts.length > 2) {
    throw new NetworkAnnotationError(`${context}: more than one '/', expected ${SHORT_FORM_SYNTAX}`);
  }
  const namespace = slashParts.length === 2 ? slashParts[0].trim() : undefined;
  const name = slashParts[slashParts.length - 1].trim();
  const networkInterface = atParts.length === 2 ? atParts[1].trim() : undefined;
  if (namespace !== undefined && !(namespace.length <= 63 && DNS1123_LABEL.test(namespace))) {
    throw new NetworkAnnotationError(
      `${context}: namespace ${quote(namespace)} is not a DNS-1123 label ` +
        `(lowercase letters, digits and '-', alphanumeric at both ends, at most 63 characters)`,
    );
  }
  if (!(name.length <= 253 && DNS1123_SUBDOMAIN.test(name))) {
    throw new NetworkAnnotationError(
      `${context}: name ${quote(name)} is not a DNS-1123 subdomain ` +
        `(lowercase letters, digits, '-' and '.', alphanumeric at both ends of each part, at most 253 characters)`,
    );
  }
  if (networkInterface !== undefined && !INTERFACE_NAME.test(networkInterface)) {
    throw new NetworkAnnotationError(
      `${context}: interface ${quote(networkInterface)} must be non-empty, without '/', '@' or whitespace`,
    );
  }
  const raw: Record<string, string> = { name };
  if (namespace !== undefined) raw.namespace = namespace;
  if (networkInterface !== undefined) raw.interface = networkInterface;
  return { name, namespace, interface: networkInterface, raw };
}

function withMac(source: string, mac: string): string {
  const macJson = JSON.stringify(mac);
  let replaced = false;
  const members = splitTopLevel(source).map((member) => {
    const { key, valueStart } = splitMember(member);
    if (foldKey(key) !== 'mac') return member;
    // Every spelling Go would read as the MAC gets the new value, so whichever occurrence wins agrees.
    replaced = true;
    return member.slice(0, valueStart) + macJson;
  });
  if (!replaced) members.push(`"mac":${macJson}`);
  return `{${members.join(',')}}`;
}

function checkCount(count: number): void {
  if (count > MAX_NETWORKS) {
    throw new NetworkAnnotationError(`too many networks: ${count} (at most ${MAX_NETWORKS})`);
  }
}

// Go's encoding/json folds keys with Unicode simple case folding; for the ASCII field names above the only
// non-ASCII folds are the long s (ſ → s) and the Kelvin sign (K → k, which toLowerCase already maps).
function foldKey(key: string): string {
  return key.toLowerCase().replaceAll('ſ', 's');
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'string array':
      return Array.isArray(value) && value.every((item) => typeof item === 'string');
    case 'object array':
      return Array.isArray(value) && value.every(isJsonObject);
    case 'object':
      return isJsonObject(value);
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  return `a JSON ${isJsonObject(value) ? 'object' : typeof value}`;
}

// Values in messages are cut short: the annotation may be megabytes and messages end up in events and logs.
function preview(jsonText: string): string {
  return jsonText.length > PREVIEW_LENGTH ? `${jsonText.slice(0, PREVIEW_LENGTH)}…` : jsonText;
}

function quote(text: string): string {
  return JSON.stringify(text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH)}…` : text);
}

// The scanners below accept only text JSON.parse has already accepted, so they need to know no more of JSON than
// where strings start and end. They loop instead of recursing: nesting depth is up to the user.

/** Valid JSON text without the whitespace between tokens; whitespace inside strings is kept. */
function compactJson(text: string): string {
  const kept: string[] = [];
  let runStart = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (isJsonSpace(c)) {
      if (i > runStart) kept.push(text.slice(runStart, i));
      runStart = i + 1;
    }
  }
  kept.push(text.slice(runStart));
  return kept.join('');
}

/** The elements of a compact JSON array, or the `"key":value` members of a compact object, as text. */
function splitTopLevel(compact: string): string[] {
  const parts: string[] = [];
  const end = compact.length - 1;
  let start = 1;
  let depth = 0;
  let inString = false;
  for (let i = 1; i < end; i++) {
    const c = compact.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    } else if (c === COMMA && depth === 0) {
      parts.push(compact.slice(start, i));
      start = i + 1;
    }
  }
  if (end > start || parts.length > 0) parts.push(compact.slice(start, end));
  return parts;
}

/** The decoded key of a compact `"key":value` member and the offset where its value starts. */
function splitMember(member: string): { key: string; valueStart: number } {
  let close = 1;
  let escaped = false;
  while (close < member.length && member.charCodeAt(close) !== QUOTE) {
    if (member.charCodeAt(close) === BACKSLASH) {
      escaped = true;
      close++;
    }
    close++;
  }
  const keyText = member.slice(0, close + 1);
  return { key: escaped ? (JSON.parse(keyText) as string) : keyText.slice(1, -1), valueStart: close + 2 };
}
