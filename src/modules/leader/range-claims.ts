import { type MacSpan, WHOLE_MAC_SPACE, formatSpan, mergeSpans, parseSpan } from '../pool/mac-span';

/**
 * The hand-over fence's record in the Lease (docs/architecture.md): the stretches of the range the holder may have
 * handed MACs out of lately, and the ones it still holds back for its predecessors.
 */
export interface LeaseClaims {
  /** Where the holder allocates now, and has allocated within the hold time. */
  claimed: MacSpan[];
  /** Its predecessors' claims, held back until its hold time after taking over passed. */
  inherited: MacSpan[];
}

export const NO_CLAIMS: LeaseClaims = { claimed: [], inherited: [] };

/** The annotation's JSON: `{"claimed":[["02:…:10","02:…:4f"]],"inherited":[]}`. */
export function formatClaims(claims: LeaseClaims): string {
  return JSON.stringify({
    claimed: claims.claimed.map(formatSpan),
    inherited: claims.inherited.map(formatSpan),
  });
}

/**
 * The claims an annotation holds (undefined without one: see claimsOf). One that cannot be read — edited by hand,
 * written by something else — claims every MAC: a new leader then holds back the whole range for its hold time
 * rather than risk a MAC the writer may have handed out.
 */
export function parseClaims(text: string | undefined): { claims: LeaseClaims; problem?: string } {
  if (text === undefined) return { claims: NO_CLAIMS };
  try {
    const value = JSON.parse(text) as { claimed?: unknown; inherited?: unknown };
    const spans = (list: unknown) => {
      if (!Array.isArray(list)) throw new Error(`${JSON.stringify(list)}: not a list of MAC spans`);
      return list.map(parseSpan);
    };
    return { claims: { claimed: spans(value.claimed), inherited: spans(value.inherited) } };
  } catch (error) {
    return {
      claims: { claimed: [WHOLE_MAC_SPACE], inherited: [] },
      problem: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * What a new term holds back of the record it takes over: its claims; every MAC when a Lease exists without any (a
 * writer without the fence, an older build: what it handed out is unknown); nothing when no Lease was ever seen.
 */
export function claimsOf(previous: { claims?: LeaseClaims } | undefined): LeaseClaims {
  if (previous === undefined) return NO_CLAIMS;
  return previous.claims ?? { claimed: [WHOLE_MAC_SPACE], inherited: [] };
}

/**
 * How many MACs ahead a leader claims, given what is free and how many it allocated since its last claim: twice
 * that (so the claim lasts a renewal at the same rate), at least 1,024 — but never more than a sixteenth of what is
 * free (at least one), so that a hand-over holds back little of a nearly full range.
 */
export function claimSize(free: number, recent = 0): number {
  return Math.min(Math.max(1024, 2 * recent), Math.max(1, Math.floor(free / 16)));
}

/**
 * A leader's claims over time, without I/O or clocks of its own (times are monotonic milliseconds).
 *
 * The leader allocates only inside `current`, which it adopts only after a Lease write carrying it succeeded. A claim
 * it replaces stays published for the hold time after it was replaced, since MACs handed out of it may still be in
 * admissions the API server has not persisted; so does what it inherited when it took over.
 */
export class ClaimLedger {
  private currentClaim: MacSpan[] = [];
  private retired: { spans: MacSpan[]; until: number }[] = [];
  private inherited: MacSpan[] = [];
  private inheritedUntil = 0;

  constructor(private readonly holdMs: number) {}

  /** The claim allocation may use now. */
  get current(): readonly MacSpan[] {
    return this.currentClaim;
  }

  /**
   * Taking the Lease over from a record this process did not write in its current term: everything it claimed or
   * held back is held back now, for the hold time from `now`.
   */
  inherit(previous: LeaseClaims, now: number): void {
    this.currentClaim = [];
    this.retired = [];
    this.inherited = mergeSpans([...previous.claimed, ...previous.inherited]);
    this.inheritedUntil = now + this.holdMs;
  }

  /** What allocation must skip now. */
  blocked(now: number): MacSpan[] {
    return now < this.inheritedUntil ? this.inherited : [];
  }

  /** The record a write adopting `next` publishes at `now`: every MAC handed out lately or about to be. */
  proposal(next: readonly MacSpan[], now: number): LeaseClaims {
    const live = this.retired.filter((r) => r.until > now).flatMap((r) => r.spans);
    return {
      claimed: mergeSpans([...next, ...this.currentClaim, ...live]),
      inherited: mergeSpans(this.blocked(now)),
    };
  }

  /** The write with `next` succeeded (it started at or before `now`): allocation moves to it. */
  adopt(next: MacSpan[], now: number): void {
    if (this.currentClaim.length > 0)
      this.retired.push({ spans: this.currentClaim, until: now + this.holdMs });
    this.retired = this.retired.filter((r) => r.until > now);
    this.currentClaim = next;
  }

  /** Stepped down: nothing may be allocated until the next term inherits anew. */
  reset(): void {
    this.currentClaim = [];
    this.retired = [];
    this.inherited = [];
    this.inheritedUntil = 0;
  }
}
