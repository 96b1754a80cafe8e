import { MutationExceptionCode } from '../mutation/mutation.exception';

/** The `status` of a denied AdmissionReview: an HTTP code and the Kubernetes StatusReason that goes with it. */
export interface DenialStatus {
  code: number;
  reason: string;
}

const BAD_REQUEST: DenialStatus = { code: 400, reason: 'BadRequest' };

/**
 * The one place where a denial's code becomes what the API server shows the user (`kubectl` prints the message
 * and, for some codes, retries or explains). Malformed input is a 400, a MAC another object holds under the
 * Reject policy a 409, a not-yet-ready manager a 503 (retryable), a full range and our own failures a 500.
 */
export const DENIAL_STATUS: Readonly<Record<MutationExceptionCode, DenialStatus>> = {
  [MutationExceptionCode.REVIEW_MALFORMED]: BAD_REQUEST,
  [MutationExceptionCode.OBJECT_MALFORMED]: BAD_REQUEST,
  [MutationExceptionCode.KIND_UNEXPECTED]: BAD_REQUEST,
  [MutationExceptionCode.MAC_MALFORMED]: BAD_REQUEST,
  [MutationExceptionCode.MAC_MULTICAST]: BAD_REQUEST,
  [MutationExceptionCode.MAC_DUPLICATE_IN_OBJECT]: BAD_REQUEST,
  [MutationExceptionCode.MAC_IN_USE]: { code: 409, reason: 'Conflict' },
  [MutationExceptionCode.TOO_LARGE]: { code: 413, reason: 'RequestEntityTooLarge' },
  [MutationExceptionCode.POOL_EXHAUSTED]: { code: 500, reason: 'InternalError' },
  [MutationExceptionCode.POOL_HELD_BACK]: { code: 503, reason: 'ServiceUnavailable' },
  [MutationExceptionCode.CLAIM_EXHAUSTED]: { code: 503, reason: 'ServiceUnavailable' },
  [MutationExceptionCode.NOT_READY]: { code: 503, reason: 'ServiceUnavailable' },
  [MutationExceptionCode.NOT_LEADER]: { code: 503, reason: 'ServiceUnavailable' },
  [MutationExceptionCode.INTERNAL]: { code: 500, reason: 'InternalError' },
};
