import { type MacPool } from '../pool/mac-pool';
import { MacAddress } from '../pool/mac-address';
import { type PoolEntry } from '../pool/owner-index';
import { ALLOCATION_KINDS, type AllocationKind } from './admin.dto';

/** `GET /api/v1/pool`. */
export interface PoolView {
  rangeStart: string;
  rangeEnd: string;
  size: number;
  used: number;
  pending: number;
  free: number;
  /** used / size, 0–1. */
  utilisation: number;
  /** MACs held by more than one owner. */
  shared: number;
  /** MACs held outside the current range (requested ones, or kept after a range change). */
  outOfRange: number;
  /** Allocations (MAC and owner pairs) by the kind of their owner. */
  byKind: Record<AllocationKind, number>;
}

/** One MAC held by one object. */
export interface AllocationView {
  mac: string;
  kind: AllocationKind;
  namespace: string;
  /** The object's name; `~<admission uid>` while a generateName object is not seen persisted. */
  name: string;
  /** The interface (VM) or network (Pod) the MAC is for. */
  interface: string;
  state: 'pending' | 'committed';
  /** When the admission recorded it (RFC 3339), or null when it was found at a rebuild. */
  since: string | null;
}

export interface AllocationPage {
  items: AllocationView[];
  /** Pass as `continue` for the next page; absent on the last. */
  continue?: string;
}

export interface CollisionView {
  mac: string;
  /** The running objects sharing it, `<kind>/<namespace>/<name>`, sorted. */
  objects: string[];
}

/** `<kind>/<namespace>/<name>` split, or undefined for an owner of another form. */
function ownerParts(owner: string): { kind: AllocationKind; namespace: string; name: string } | undefined {
  const first = owner.indexOf('/');
  const second = owner.indexOf('/', first + 1);
  if (first < 0 || second < 0) return undefined;
  const kind = owner.slice(0, first);
  if (!(ALLOCATION_KINDS as readonly string[]).includes(kind)) return undefined;
  return {
    kind: kind as AllocationKind,
    namespace: owner.slice(first + 1, second),
    name: owner.slice(second + 1),
  };
}

export function allocationView(entry: PoolEntry): AllocationView | undefined {
  const parts = ownerParts(entry.owner);
  if (parts === undefined) return undefined;
  return {
    mac: MacAddress.fromValue(entry.mac).toString(),
    ...parts,
    interface: entry.key,
    state: entry.state === 'pending' ? 'pending' : 'committed',
    since: entry.since > 0 ? new Date(entry.since).toISOString() : null,
  };
}

export function poolView(pool: MacPool): PoolView {
  const stats = pool.stats();
  const byKind: Record<AllocationKind, number> = { pod: 0, vm: 0 };
  for (const owner of pool.owners()) {
    const kind = ownerParts(owner)?.kind;
    if (kind !== undefined) byKind[kind] += pool.entriesOf(owner).length;
  }
  return {
    rangeStart: stats.rangeStart,
    rangeEnd: stats.rangeEnd,
    size: stats.size,
    used: stats.used,
    pending: stats.pending,
    free: stats.free,
    utilisation: stats.size === 0 ? 0 : stats.used / stats.size,
    shared: stats.shared,
    outOfRange: stats.outOfRange,
    byKind,
  };
}

/** A page position: the last owner and interface returned. Opaque to callers (base64url JSON). */
function encodeToken(owner: string, key: string): string {
  return Buffer.from(JSON.stringify([owner, key])).toString('base64url');
}

/** The position a token names, or undefined when it is not one this API returned. */
export function decodeToken(token: string): [string, string] | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    return Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string'
      ? [value[0], value[1]]
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One page of allocations in a stable order (owner, then interface), after `after` (a decoded token), of owners of
 * `kind` in `namespace` when given. Objects created or deleted between pages appear or vanish in their place; no
 * allocation that exists throughout is skipped or repeated.
 */
export function allocationPage(
  pool: MacPool,
  filter: { kind?: AllocationKind; namespace?: string },
  limit: number,
  after: [string, string] | undefined,
): AllocationPage {
  const prefix =
    filter.kind === undefined
      ? undefined
      : filter.namespace === undefined
        ? `${filter.kind}/`
        : `${filter.kind}/${filter.namespace}/`;
  const owners: string[] = [];
  for (const owner of pool.owners()) {
    if (prefix !== undefined && !owner.startsWith(prefix)) continue;
    if (after !== undefined && owner < after[0]) continue;
    const parts = ownerParts(owner);
    if (parts === undefined || (filter.namespace !== undefined && parts.namespace !== filter.namespace))
      continue;
    owners.push(owner);
  }
  owners.sort();
  const items: AllocationView[] = [];
  for (const owner of owners) {
    const entries = [...pool.entriesOf(owner)].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const entry of entries) {
      if (after !== undefined && owner === after[0] && entry.key <= after[1]) continue;
      if (items.length === limit) {
        const last = items[items.length - 1];
        return {
          items,
          continue: encodeToken(`${last.kind}/${last.namespace}/${last.name}`, last.interface),
        };
      }
      const view = allocationView(entry);
      if (view !== undefined) items.push(view);
    }
  }
  return { items };
}
