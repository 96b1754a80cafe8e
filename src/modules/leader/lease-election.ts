/**
 * The election rules over a coordination.k8s.io/v1 Lease, as client-go's leaderelection applies them, without I/O or
 * clocks of their own (times are this process's monotonic milliseconds), so they are unit-tested alone.
 *
 * Expiry is judged by this replica's clock only: a Lease held by another replica has expired once it went unchanged
 * for its duration since this replica last saw it change. Remote renewTime values are never compared with the local
 * wall clock, so clock skew between nodes cannot hand the Lease over early.
 */

import { type LeaseClaims } from './range-claims';

/** What the election reads of a Lease. */
export interface LeaseRecord {
  holder: string;
  durationSeconds: number;
  acquireTime?: string;
  renewTime?: string;
  transitions: number;
  /** Where the holder serves (its webhook URL), published for followers. */
  url?: string;
  /** The stretches of the range the holder claimed (the hand-over fence); undefined: none published. */
  claims?: LeaseClaims;
  /** Why the published claims could not be read (they then stand for every MAC). */
  claimsProblem?: string;
}

/** A Lease as last read, with when (monotonic ms) this replica saw its record change. */
export interface Observation {
  record: LeaseRecord;
  resourceVersion: string;
  observedAt: number;
}

export type ElectionAction =
  /** No Lease yet: create it holding it. */
  | 'create'
  /** This replica holds it: renew. */
  | 'renew'
  /** Released or expired: take it over. */
  | 'acquire'
  /** Another replica holds it and it has not expired. */
  | 'wait';

/** The next step for `identity`, given the Lease as last observed (undefined: there is none). */
export function nextAction(identity: string, observed: Observation | undefined, now: number): ElectionAction {
  if (observed === undefined) return 'create';
  const { record } = observed;
  if (record.holder === identity) return 'renew';
  if (record.holder === '') return 'acquire';
  return now - observed.observedAt >= record.durationSeconds * 1000 ? 'acquire' : 'wait';
}

/**
 * The observation after reading `record`: a record that differs from the one seen before (another holder, another
 * renewal, another transition count) restarts the expiry clock; one that did not change keeps it running.
 */
export function observe(
  previous: Observation | undefined,
  record: LeaseRecord,
  resourceVersion: string,
  now: number,
): Observation {
  const same =
    previous !== undefined &&
    previous.record.holder === record.holder &&
    previous.record.renewTime === record.renewTime &&
    previous.record.transitions === record.transitions &&
    previous.record.durationSeconds === record.durationSeconds;
  return { record, resourceVersion, observedAt: same ? previous.observedAt : now };
}

/** The record `identity` writes for `action` (create, renew or acquire), at wall-clock time `wallNow`. */
export function claim(
  identity: string,
  action: Exclude<ElectionAction, 'wait'>,
  observed: Observation | undefined,
  durationSeconds: number,
  wallNow: Date,
  url: string | undefined,
  claims?: LeaseClaims,
): LeaseRecord {
  const time = microTime(wallNow);
  const previous = observed?.record;
  const renewing = action === 'renew' && previous !== undefined;
  return {
    holder: identity,
    durationSeconds,
    acquireTime: renewing ? (previous.acquireTime ?? time) : time,
    renewTime: time,
    transitions: previous === undefined ? 0 : renewing ? previous.transitions : previous.transitions + 1,
    url,
    claims,
  };
}

/**
 * The record a leader leaves when it steps down (client-go's ReleaseOnCancel): no holder, a 1 s duration. Its claims
 * stay: the next leader holds them back, as admissions the old one answered may not be persisted yet.
 */
export function released(previous: LeaseRecord, wallNow: Date): LeaseRecord {
  return { ...previous, holder: '', durationSeconds: 1, renewTime: microTime(wallNow), url: undefined };
}

/**
 * The self-fence: a leader may allocate only while less than `renewDeadlineMs` has passed since it *started* the
 * last write of the Lease that succeeded. Another replica takes over only after the full lease duration without
 * seeing a change, and that write was seen after it started, so as long as renewDeadline < leaseDuration this
 * replica stops allocating before any other can have begun.
 */
export function mayAllocate(
  leading: boolean,
  lastWriteStartedAt: number | undefined,
  renewDeadlineMs: number,
  now: number,
): boolean {
  return leading && lastWriteStartedAt !== undefined && now - lastWriteStartedAt < renewDeadlineMs;
}

/** A Kubernetes MicroTime: RFC 3339 with six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
