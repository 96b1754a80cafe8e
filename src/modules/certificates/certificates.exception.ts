import { CodedException } from '../../common/coded-exception';

/** Why the certificates module gave up on an operation; stable strings for logs and tests. */
export enum CertificatesExceptionCode {
  /** A certificate this manager just signed failed its own checks against the CA: writing it could never settle. */
  ISSUED_CERTIFICATE_REJECTED = 'ISSUED_CERTIFICATE_REJECTED',
  /** Reconcile passes kept writing without reaching a state that needs no write. */
  NOT_CONVERGING = 'NOT_CONVERGING',
  /** The CA Secret could not be read back as a CA right after it was written. */
  CA_UNREADABLE = 'CA_UNREADABLE',
  /** node:crypto or node-forge refused to build or sign a certificate. */
  SIGNING_FAILED = 'SIGNING_FAILED',
}

/** A failure of the certificates module, with a code to tell the cases apart without parsing messages. */
export class CertificatesException extends CodedException<CertificatesExceptionCode> {}
