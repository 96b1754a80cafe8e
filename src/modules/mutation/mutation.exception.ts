import { CodedException } from '../../common/coded-exception';

/**
 * Why an admission request is denied. The code says what went wrong, not how HTTP spells it: the admission module
 * maps each one to the AdmissionReview's `status.code` and `status.reason` in one place (admission.status.ts).
 */
export enum MutationExceptionCode {
  /** The AdmissionReview itself is malformed (a missing uid, a request that is not an object, …). */
  REVIEW_MALFORMED = 'REVIEW_MALFORMED',
  /** The object is malformed: a broken networks annotation, an interface list that is not a list, … */
  OBJECT_MALFORMED = 'OBJECT_MALFORMED',
  /** The webhook was called for a kind it does not serve. */
  KIND_UNEXPECTED = 'KIND_UNEXPECTED',
  /** A requested MAC does not parse. */
  MAC_MALFORMED = 'MAC_MALFORMED',
  /** A requested MAC is a group (multicast) address, which no NIC can use. */
  MAC_MULTICAST = 'MAC_MULTICAST',
  /** One MAC on two interfaces of one object, or two interfaces with one name. */
  MAC_DUPLICATE_IN_OBJECT = 'MAC_DUPLICATE_IN_OBJECT',
  /** A requested MAC is held by another object and the duplicate policy is Reject. */
  MAC_IN_USE = 'MAC_IN_USE',
  /** The object has more interfaces than the manager serves. */
  TOO_LARGE = 'TOO_LARGE',
  /** The range has no free MAC left for the request. */
  POOL_EXHAUSTED = 'POOL_EXHAUSTED',
  /**
   * Free MACs are left only in stretches a previous leader claimed, held back until its admissions settled after a
   * hand-over; retryable.
   */
  POOL_HELD_BACK = 'POOL_HELD_BACK',
  /** The leader's claim on the range ends before the next MAC; admission grows it and tries once more. */
  CLAIM_EXHAUSTED = 'CLAIM_EXHAUSTED',
  /** The manager is not ready to allocate yet (the pool is being rebuilt); the client may retry. */
  NOT_READY = 'NOT_READY',
  /** This replica does not hold the pool (it is not the leader) and cannot hand the request to one; retryable. */
  NOT_LEADER = 'NOT_LEADER',
  /** Something failed on our side; the message names the request, never a stack. */
  INTERNAL = 'INTERNAL',
}

/** A denial with a message that names the object and the value; never a stack. */
export class MutationException extends CodedException<MutationExceptionCode> {}
