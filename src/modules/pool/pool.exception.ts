import { CodedException } from '../../common/coded-exception';

/** Machine-readable reasons a pool operation failed; the admission filter maps them to AdmissionReview codes. */
export enum PoolExceptionCode {
  MAC_MALFORMED = 'MAC_MALFORMED',
  RANGE_INVALID = 'RANGE_INVALID',
  POOL_EXHAUSTED = 'POOL_EXHAUSTED',
  /** Free MACs are left, but only inside stretches a previous leader claimed, held back for now (retryable). */
  POOL_HELD_BACK = 'POOL_HELD_BACK',
  /** The next MAC lies past the leader's published claim: the claim must grow first (retryable). */
  CLAIM_EXHAUSTED = 'CLAIM_EXHAUSTED',
}

/** An error of the pool module. The message names the value that caused it. */
export class PoolException extends CodedException<PoolExceptionCode> {}
