/** Why the certificates module gave up on an operation; stable strings for logs and tests. */
export enum CertificatesExceptionCode {
  /** A certificate this manager just signed failed its own checks against the CA: writing it could never settle. */
  IssuedCertificateRejected = 'ISSUED_CERTIFICATE_REJECTED',
  /** Reconcile passes kept writing without reaching a state that needs no write. */
  NotConverging = 'NOT_CONVERGING',
  /** The CA Secret could not be read back as a CA right after it was written. */
  CaUnreadable = 'CA_UNREADABLE',
  /** node:crypto or node-forge refused to build or sign a certificate. */
  SigningFailed = 'SIGNING_FAILED',
}

/** A failure of the certificates module, with a code to tell the cases apart without parsing messages. */
export class CertificatesException extends Error {
  override readonly name = 'CertificatesException';

  constructor(
    readonly code: CertificatesExceptionCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
