/** Why an admission request is denied; the code becomes the AdmissionReview's `status.code`. */
export enum MutationExceptionCode {
  /** The request or the object is malformed (an invalid MAC, a broken annotation, a bad review). */
  BAD_REQUEST = 400,
  /** A requested MAC is held by another object and the duplicate policy is Reject. */
  DUPLICATE_MAC = 409,
  /** The object is too large or has too many interfaces. */
  TOO_LARGE = 413,
  /** The pool cannot serve the request (the range is full) or something failed on our side. */
  INTERNAL = 500,
  /** The manager is not ready to allocate yet (the pool is being rebuilt); the client may retry. */
  UNAVAILABLE = 503,
}

/** A denial with a message that names the object and the value; never a stack. */
export class MutationException extends Error {
  constructor(
    readonly code: MutationExceptionCode,
    message: string,
  ) {
    super(message);
    this.name = 'MutationException';
  }
}
