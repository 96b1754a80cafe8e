import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type V1MutatingWebhookConfiguration, type V1Secret } from '@kubernetes/client-node';
import { AppConfig } from '../../config/app-config';
import { describeError, isConflict } from '../kube/kube-errors';
import { CertificateRepository } from './certificate.repository';
import {
  CA_CERT_KEY,
  CA_KEY_KEY,
  caSecretName,
  CLOCK_SKEW_MS,
  MANAGED_ANNOTATION,
  PUBLISHED_ANNOTATION,
  SERVICE_NAME,
  SERVING_SECRET_NAME,
  TLS_CERT_KEY,
  TLS_KEY_KEY,
} from './certificates.constants';
import { type ParsedCertificate, parseCertificates, toPem } from './certificate-material';
import {
  type KeyPairData,
  assessCa,
  decideCa,
  decideServing,
  earliestExpiry,
  mergeBundle,
  servingNames,
  servingProblem,
  servingValidity,
} from './certificate-policy';
import { CertificatesException, CertificatesExceptionCode } from './certificates.exception';
import { type CertifiedKey, X509Repository } from './x509.repository';

/** A check every minute besides the deadline timer, so a paused process or a missed event is noticed (as cert-manager). */
const SAFETY_CHECK_MS = 60_000;
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 30_000;
/**
 * Passes in a row that may write. A pass writes at most the CA, the caBundles, the CA's publication time and the
 * serving certificate, and what it writes satisfies the next pass, so two suffice; more means a decision the
 * material it produces does not satisfy, which must back off and be reported instead of spinning.
 */
const MAX_WRITING_PASSES = 5;

function decode(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

function encode(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

function keyPairOf(secret: V1Secret | undefined, certKey: string, keyKey: string): KeyPairData | undefined {
  if (secret?.data === undefined) return undefined;
  return { certificatePem: decode(secret.data[certKey]), privateKeyPem: decode(secret.data[keyKey]) };
}

/**
 * Keeps the webhook's CA, caBundle and serving certificate valid (the cert-manager model): makes a CA
 * and a serving certificate when missing or broken, injects the CA into every webhook's caBundle (newest first,
 * the previous CA kept until it expires), and renews both before they expire. It runs on a timer set to the next
 * deadline and on every change to the Secrets or the webhook configuration.
 *
 * Every write carries the resourceVersion it read: when another replica wrote first the write fails with 409 and
 * the next pass starts from what that replica wrote, so concurrent managers converge instead of overwriting.
 */
@Injectable()
export class CertificateManagerService implements OnApplicationBootstrap, OnModuleDestroy {
  private trusted: string | undefined;
  private readonly logger = new Logger(CertificateManagerService.name);
  private running: Promise<void> | undefined;
  private again = false;
  private failures = 0;
  private stopped = false;
  private safetyTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: CertificateRepository,
    private readonly x509: X509Repository,
    private readonly config: AppConfig,
  ) {}

  /** A pass every SAFETY_CHECK_MS, whatever the deadline timer and the watches say. */
  /** The CAs the webhook's clients trust (the caBundle's), as PEM; undefined until the first reconcile. */
  get trustedCaPem(): string | undefined {
    return this.trusted;
  }

  onApplicationBootstrap(): void {
    this.safetyTimer = setInterval(() => void this.trigger(), SAFETY_CHECK_MS);
  }

  /** Runs a reconcile pass now, or right after the one in progress. */
  trigger(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
    return this.running;
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearInterval(this.safetyTimer);
    clearTimeout(this.deadlineTimer);
  }

  /** Replaces the deadline timer (shutdown clears it). */
  private scheduleDeadline(delay: number): void {
    clearTimeout(this.deadlineTimer);
    if (this.stopped) return;
    this.deadlineTimer = setTimeout(() => void this.trigger(), delay);
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      let delay: number;
      try {
        const nextCheckAt = await this.reconcileUntilStable();
        this.failures = 0;
        delay = Math.min(Math.max(nextCheckAt - Date.now(), 0), SAFETY_CHECK_MS);
      } catch (error) {
        if (this.stopped) return;
        delay = Math.min(RETRY_MIN_MS * 2 ** this.failures++, RETRY_MAX_MS);
        const conflict = isConflict(error);
        const log = conflict ? this.logger.debug.bind(this.logger) : this.logger.error.bind(this.logger);
        log('certificate reconcile failed; retrying', {
          error: describeError(error),
          code: error instanceof CertificatesException ? error.code : undefined,
          retryInMs: delay,
        });
      }
      this.scheduleDeadline(delay);
    } while (this.again && !this.stopped);
  }

  /** Passes until one writes nothing (a write changes what the next pass sees); returns the next deadline. */
  private async reconcileUntilStable(): Promise<number> {
    for (let pass = 0; pass < MAX_WRITING_PASSES; pass++) {
      const result = await this.reconcile(Date.now());
      if (!result.wrote) return result.nextCheckAt;
    }
    throw new CertificatesException(
      CertificatesExceptionCode.NOT_CONVERGING,
      `${MAX_WRITING_PASSES} certificate reconcile passes in a row wrote to the API`,
    );
  }

  /** One pass: CA, then caBundle, then serving certificate. */
  async reconcile(now: number): Promise<{ wrote: boolean; nextCheckAt: number }> {
    const { namespace, certificates: settings, webhook } = this.config;
    const names = servingNames(namespace, SERVICE_NAME, webhook.extraDnsNames, webhook.extraIpAddresses);
    const caName = caSecretName(webhook.configurationName);
    let caSecret = await this.repository.readSecret(namespace, caName);
    const configuration = await this.repository.readWebhookConfiguration(webhook.configurationName);
    const rawBundles = (configuration?.webhooks ?? []).map((w) => decode(w.clientConfig.caBundle) ?? '');
    const bundles = rawBundles.map((raw) => parseCertificates(raw));
    const hasWebhooks = bundles.length > 0;
    let wrote = false;

    // 1. The CA.
    const caDecision = decideCa(assessCa(keyPairOf(caSecret, CA_CERT_KEY, CA_KEY_KEY), now), settings, now);
    if (caDecision.rotate) {
      this.logger.log('creating a new webhook CA', { reason: caDecision.reason });
      const issued = await this.createCa(now);
      // A new CA is not published yet: drop the previous CA's publication time.
      caSecret = await this.store(
        namespace,
        caSecret,
        this.secret(
          caSecret,
          caName,
          'Opaque',
          { [CA_CERT_KEY]: issued.certificatePem, [CA_KEY_KEY]: issued.privateKeyPem },
          { [PUBLISHED_ANNOTATION]: undefined },
        ),
      );
      wrote = true;
    }
    const caData = keyPairOf(caSecret, CA_CERT_KEY, CA_KEY_KEY);
    const ca = parseCertificates(caData?.certificatePem)[0];
    if (caData?.privateKeyPem === undefined || ca === undefined)
      throw new CertificatesException(
        CertificatesExceptionCode.CA_UNREADABLE,
        `${caName} holds no CA after the CA step`,
      );
    const caKey: CertifiedKey = { certificatePem: ca.pem, privateKeyPem: caData.privateKeyPem };

    // 2. The caBundle of every webhook: the CA first, earlier CAs kept until they expire.
    let publishedAt = this.publishedAt(caSecret);
    this.trusted = toPem(hasWebhooks ? mergeBundle(ca, bundles[0], now) : [ca]);
    if (configuration !== undefined && hasWebhooks) {
      const merged = bundles.map((bundle) => mergeBundle(ca, bundle, now));
      if (merged.some((bundle, i) => toPem(bundle) !== rawBundles[i])) {
        await this.publish(configuration, merged);
        wrote = true;
        this.logger.log('caBundle updated', {
          webhooks: configuration.webhooks!.length,
          trustedCas: merged[0].length,
          ca: ca.fingerprint,
        });
      }
      if (publishedAt === undefined) {
        publishedAt = now;
        await this.store(
          namespace,
          caSecret,
          this.secret(
            caSecret,
            caName,
            'Opaque',
            { [CA_CERT_KEY]: caData.certificatePem!, [CA_KEY_KEY]: caData.privateKeyPem },
            {
              [PUBLISHED_ANNOTATION]: new Date(now).toISOString(),
            },
          ),
        );
        wrote = true;
      }
    }

    // 3. The serving certificate, once the CA that signs it has had time to reach every API server.
    const servingSecret = await this.repository.readSecret(namespace, SERVING_SECRET_NAME);
    const servingData = keyPairOf(servingSecret, TLS_CERT_KEY, TLS_KEY_KEY);
    const decision = decideServing(servingData, ca, hasWebhooks ? publishedAt : 0, names, settings, now);
    let servingDeadline = decision.nextCheckAt;
    if (decision.issue) {
      this.logger.log('issuing a new serving certificate', { reason: decision.reason, ca: ca.fingerprint });
      const leaf = await this.createServingCertificate(caKey, ca, names, now);
      // Writing a certificate the next pass rejects again would re-issue it on every pass, forever.
      const rejected = servingProblem(leaf, ca, names, now);
      if (rejected !== undefined)
        throw new CertificatesException(
          CertificatesExceptionCode.ISSUED_CERTIFICATE_REJECTED,
          `the serving certificate just signed fails its own check: ${rejected}`,
        );
      await this.store(
        namespace,
        servingSecret,
        this.secret(servingSecret, SERVING_SECRET_NAME, 'kubernetes.io/tls', {
          [TLS_CERT_KEY]: leaf.certificatePem,
          [TLS_KEY_KEY]: leaf.privateKeyPem,
        }),
      );
      wrote = true;
      servingDeadline = now;
    }

    const nextCheckAt = Math.min(caDecision.rotateAt, servingDeadline, earliestExpiry(bundles) + 1);
    return { wrote, nextCheckAt };
  }

  private publishedAt(caSecret: V1Secret | undefined): number | undefined {
    const value = caSecret?.metadata?.annotations?.[PUBLISHED_ANNOTATION];
    const time = value === undefined ? NaN : Date.parse(value);
    return Number.isNaN(time) ? undefined : time;
  }

  private async publish(
    configuration: V1MutatingWebhookConfiguration,
    bundles: readonly ParsedCertificate[][],
  ): Promise<void> {
    const updated: V1MutatingWebhookConfiguration = {
      ...configuration,
      webhooks: configuration.webhooks!.map((webhook, i) => ({
        ...webhook,
        clientConfig: { ...webhook.clientConfig, caBundle: encode(toPem(bundles[i])) },
      })),
    };
    await this.repository.replaceWebhookConfiguration(updated);
  }

  private async createCa(now: number): Promise<CertifiedKey> {
    const key = await this.x509.generateRsaKeyPair();
    const certificatePem = this.x509.signCertificate(
      {
        // Upstream's CA common name is the webhook configuration's name.
        commonName: this.config.webhook.configurationName,
        isCa: true,
        notBefore: new Date(now - CLOCK_SKEW_MS),
        notAfter: new Date(now + this.config.certificates.caRotateMs),
      },
      key,
    );
    return { certificatePem, privateKeyPem: key.privateKeyPem };
  }

  private async createServingCertificate(
    issuer: CertifiedKey,
    ca: ParsedCertificate,
    names: { dnsNames: string[]; ipAddresses: string[] },
    now: number,
  ): Promise<CertifiedKey> {
    const key = await this.x509.generateRsaKeyPair();
    const validity = servingValidity(ca, this.config.certificates, now, CLOCK_SKEW_MS);
    const certificatePem = this.x509.signCertificate(
      {
        commonName: `${SERVICE_NAME}.${this.config.namespace}.pod.cluster.local`,
        dnsNames: names.dnsNames,
        ipAddresses: names.ipAddresses,
        usages: ['serverAuth'],
        ...validity,
      },
      key,
      issuer,
    );
    return { certificatePem, privateKeyPem: key.privateKeyPem };
  }

  /**
   * Writes `body` over `current`. A Secret's type cannot change: one of another type (a `kubernetes.io/tls` Secret
   * where the CA's `Opaque` one belongs) is deleted, on condition that it is still the copy that was read, and
   * created anew, or every pass would fail on it for ever.
   */
  private async store(namespace: string, current: V1Secret | undefined, body: V1Secret): Promise<V1Secret> {
    if (current?.type === undefined || current.type === body.type)
      return this.repository.writeSecret(namespace, body);
    this.logger.warn('replacing a Secret of the wrong type', {
      secret: body.metadata!.name,
      type: current.type,
      wanted: body.type,
    });
    await this.repository.deleteSecret(namespace, body.metadata!.name!, current.metadata!.resourceVersion!);
    return this.repository.writeSecret(namespace, {
      ...body,
      metadata: { ...body.metadata, resourceVersion: undefined },
    });
  }

  /**
   * The Secret to write: the read copy (keeping its resourceVersion, labels and annotations) with new data and
   * annotation changes (undefined removes one), or a new Secret.
   */
  private secret(
    current: V1Secret | undefined,
    name: string,
    type: string,
    data: Record<string, string>,
    annotations: Record<string, string | undefined> = {},
  ): V1Secret {
    const merged: Record<string, string> = { ...current?.metadata?.annotations, [MANAGED_ANNOTATION]: '' };
    for (const [key, value] of Object.entries(annotations)) {
      if (value === undefined) delete merged[key];
      else merged[key] = value;
    }
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      type,
      metadata: {
        name,
        namespace: this.config.namespace,
        resourceVersion: current?.metadata?.resourceVersion,
        labels: current?.metadata?.labels,
        annotations: merged,
      },
      data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, encode(value)])),
    };
  }
}
