import { Injectable } from '@nestjs/common';
import { type V1Secret } from '@kubernetes/client-node';
import { AppConfig } from '../../config/app-config';
import { CA_CERT_KEY } from './certificates.constants';
import { parseCertificates } from './certificate-material';

/**
 * When the webhook's CA and the serving certificate expire, as this replica last read them: the CA from its Secret
 * (the newest CA, the one that signs new serving certificates), the serving certificate when this replica loaded it
 * into its HTTPS server. Read by the metrics at scrape time; undefined while not known.
 */
@Injectable()
export class CertificateExpiryService {
  private caNotAfter_: number | undefined;
  private servingNotAfter_: number | undefined;

  constructor(private readonly config: AppConfig) {}

  /** Epoch milliseconds after which the CA is no longer valid. */
  get caNotAfter(): number | undefined {
    return this.caNotAfter_;
  }

  /** Epoch milliseconds after which the certificate this replica serves is no longer valid. */
  get servingNotAfter(): number | undefined {
    return this.servingNotAfter_;
  }

  /**
   * Epoch milliseconds at which the CA is due to be replaced: the start of its overlap window (CA_OVERLAP_INTERVAL
   * before it expires). A CA still in use after this means the renewal failed.
   */
  get caRenewalDue(): number | undefined {
    return this.caNotAfter_ === undefined
      ? undefined
      : this.caNotAfter_ - this.config.certificates.caOverlapMs;
  }

  /** As caRenewalDue, for the serving certificate (CERT_OVERLAP_INTERVAL before it expires). */
  get servingRenewalDue(): number | undefined {
    return this.servingNotAfter_ === undefined
      ? undefined
      : this.servingNotAfter_ - this.config.certificates.certOverlapMs;
  }

  /** The CA Secret as last seen (undefined: deleted or not created yet). */
  observeCaSecret(secret: V1Secret | undefined): void {
    const pem = secret?.data?.[CA_CERT_KEY];
    const [ca] = parseCertificates(
      pem === undefined ? undefined : Buffer.from(pem, 'base64').toString('utf8'),
    );
    this.caNotAfter_ = ca?.notAfter;
  }

  /** The serving certificate this replica now serves. */
  observeServing(notAfter: number): void {
    this.servingNotAfter_ = notAfter;
  }
}
