import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type V1MutatingWebhookConfiguration, type V1Secret } from '@kubernetes/client-node';
import { AppConfig } from '../../config/app-config';
import { describeError } from '../kube/kube-errors';
import { type ResourceWatch } from '../kube/resource-watch';
import { CertificateExpiryService } from './certificate-expiry.service';
import { CertificateManagerService } from './certificate-manager.service';
import { CertificateRepository } from './certificate.repository';
import { SERVING_SECRET_NAME, caSecretName } from './certificates.constants';
import { ServingCertificateService } from './serving-certificate.service';

/**
 * Feeds changes to the manager and the server: any change of our Secrets or of the webhook configuration starts a
 * reconcile pass (someone deleted a Secret or emptied a caBundle: heal at once, not at the next deadline), and the
 * serving Secret's content is loaded into this replica's HTTPS server.
 */
@Injectable()
export class CertificateWatcherService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(CertificateWatcherService.name);
  private readonly watches: ResourceWatch<V1Secret | V1MutatingWebhookConfiguration>[] = [];

  constructor(
    private readonly repository: CertificateRepository,
    private readonly manager: CertificateManagerService,
    private readonly serving: ServingCertificateService,
    private readonly config: AppConfig,
    private readonly expiry: CertificateExpiryService,
  ) {}

  /** Starts the watches without waiting for them: the replica stays not ready until the certificate is loaded. */
  onApplicationBootstrap(): void {
    const onError = (error: unknown) =>
      this.logger.warn('watch interrupted, resuming', { error: describeError(error) });
    const namespace = this.config.namespace;
    const ca = this.repository.watchSecret(namespace, caSecretName(this.config.webhook.configurationName), {
      onSync: (items) => {
        this.expiry.observeCaSecret(items[0]);
        void this.manager.trigger();
      },
      onEvent: (type, secret) => {
        this.expiry.observeCaSecret(type === 'DELETED' ? undefined : secret);
        void this.manager.trigger();
      },
      onError,
    });
    const serving = this.repository.watchSecret(namespace, SERVING_SECRET_NAME, {
      onSync: (items) => {
        this.serving.apply(items[0]);
        void this.manager.trigger();
      },
      onEvent: (type, secret) => {
        if (type !== 'DELETED') this.serving.apply(secret);
        void this.manager.trigger();
      },
      onError,
    });
    const configuration = this.repository.watchWebhookConfiguration(this.config.webhook.configurationName, {
      onSync: () => void this.manager.trigger(),
      onEvent: () => void this.manager.trigger(),
      onError,
    });
    this.watches.push(ca, serving, configuration);
    for (const watch of this.watches) void watch.start();
  }

  onModuleDestroy(): void {
    for (const watch of this.watches) watch.stop();
  }
}
