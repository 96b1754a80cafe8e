import { Module } from '@nestjs/common';
import { makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { CertificateExpiryService } from './certificate-expiry.service';
import { CertificateManagerService } from './certificate-manager.service';
import { CertificateRepository } from './certificate.repository';
import { CertificateWatcherService } from './certificate-watcher.service';
import { X509Repository } from './x509.repository';
import { CERTIFICATE_RELOAD_FAILURES_METRIC, ServingCertificateService } from './serving-certificate.service';

/**
 * The webhook's own CA and serving certificate, stored in Secrets, injected into the webhook configuration's
 * caBundle, renewed before expiry, and hot-swapped into the HTTPS server on every replica.
 */
@Module({
  providers: [
    CertificateRepository,
    X509Repository,
    CertificateManagerService,
    ServingCertificateService,
    CertificateWatcherService,
    CertificateExpiryService,
    makeCounterProvider({
      name: CERTIFICATE_RELOAD_FAILURES_METRIC,
      help: 'Serving certificates refused by this replica (unparsable, or key and certificate do not match).',
    }),
  ],
  exports: [ServingCertificateService, CertificateManagerService, CertificateExpiryService, X509Repository],
})
export class CertificatesModule {}
