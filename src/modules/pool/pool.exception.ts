import { CodedException } from '../../common/coded-exception';

/** Machine-readable reasons a pool operation failed; the admission filter maps them to AdmissionReview codes. */
export enum PoolExceptionCode {
  MAC_MALFORMED = 'MAC_MALFORMED',
  RANGE_INVALID = 'RANGE_INVALID',
  POOL_EXHAUSTED = 'POOL_EXHAUSTED',
}

/** An error of the pool module. The message names the value that caused it. */
export class PoolException extends CodedException<PoolExceptionCode> {}
