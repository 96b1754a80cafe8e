import { SERVICE_NAME } from '../../common/webhook-configuration';

/** Upstream's names: a cluster switching from upstream keeps its Secrets and webhook configuration. */
export { SERVICE_NAME };
export const SERVING_SECRET_NAME = SERVICE_NAME;

/** The CA Secret of a webhook configuration (`kubemacpool-mutator-ca` upstream). */
export function caSecretName(webhookConfigurationName: string): string {
  return `${webhookConfigurationName}-ca`;
}

export const CA_CERT_KEY = 'ca.crt';
export const CA_KEY_KEY = 'ca.key';
export const TLS_CERT_KEY = 'tls.crt';
export const TLS_KEY_KEY = 'tls.key';

/** Upstream's library marks the Secrets it manages with this annotation. */
export const MANAGED_ANNOTATION = 'kubevirt.io/kube-admission-webhook';
/** When the CA in the CA Secret first stood in every webhook's caBundle (RFC 3339); ours, not upstream's. */
export const PUBLISHED_ANNOTATION = 'kubemacpool.io/ca-published-at';

/** Backdating of notBefore, for clocks a little behind ours. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
/** Most certificates kept in one caBundle (upstream keeps 100). */
export const MAX_BUNDLE_CERTIFICATES = 100;
