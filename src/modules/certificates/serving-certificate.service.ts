import { Injectable, Logger } from '@nestjs/common';
import { type V1Secret } from '@kubernetes/client-node';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { type FastifyInstance } from 'fastify';
import { type Server as TlsServer, type TLSSocket } from 'node:tls';
import { type Counter } from 'prom-client';
import { AppConfig, webhookTlsOptions } from '../../config/app-config';
import { ReadinessService } from '../health/readiness.service';
import { CertificateExpiryService } from './certificate-expiry.service';
import { TLS_CERT_KEY, TLS_KEY_KEY } from './certificates.constants';
import { keyMatches, parseCertificates } from './certificate-material';

export const CERTIFICATE_RELOAD_FAILURES_METRIC = 'kubemacpool_certificate_reload_failures_total';

const GENERATION = Symbol('kubemacpool.tlsGeneration');
type TaggedSocket = TLSSocket & { [GENERATION]?: number };

/**
 * The certificate this replica serves. Every replica loads it from the `kubemacpool-service` Secret and swaps it into
 * the running HTTPS server with setSecureContext: new handshakes get the new certificate, no restart, no dropped
 * request. A pair that does not match (or does not parse) is refused, logged and counted, and the previous
 * certificate keeps serving.
 *
 * After a swap, each keep-alive connection made under the previous certificate answers its next request with
 * `Connection: close`, so clients re-handshake with the new certificate soon, without the race of closing idle
 * sockets under them.
 */
@Injectable()
export class ServingCertificateService {
  private readonly logger = new Logger(ServingCertificateService.name);
  /** The HTTPS servers that serve this certificate (the webhook's; the guarded metrics server's when on). */
  private readonly servers: TlsServer[] = [];
  /** The certificate and key loaded last, for a server attached after that. */
  private material: { cert: string; key: string } | undefined;
  private loadedFingerprint: string | undefined;
  private generation = 0;

  constructor(
    private readonly config: AppConfig,
    readiness: ReadinessService,
    private readonly expiry: CertificateExpiryService,
    @InjectMetric(CERTIFICATE_RELOAD_FAILURES_METRIC) private readonly failures: Counter<string>,
  ) {
    readiness.register('serving certificate', () =>
      this.loadedFingerprint === undefined ? 'not loaded from its Secret yet' : undefined,
    );
  }

  /** Fingerprint (SHA-256) of the certificate being served, once one was loaded. */
  get fingerprint(): string | undefined {
    return this.loadedFingerprint;
  }

  /** Takes over the HTTPS server and its Fastify instance (before it listens). */
  attach(server: TlsServer, fastify: FastifyInstance): void {
    this.servers.push(server);
    if (this.material !== undefined) server.setSecureContext(this.secureContext(this.material));
    server.on('secureConnection', (socket: TaggedSocket) => {
      socket[GENERATION] = this.generation;
    });
    fastify.addHook('onSend', (request, reply, payload, done) => {
      const socket = request.raw.socket as TaggedSocket;
      if ((socket[GENERATION] ?? this.generation) < this.generation) reply.header('connection', 'close');
      done(null, payload);
    });
  }

  /** Loads the serving Secret; returns false (and keeps the current certificate) when it cannot be used. */
  apply(secret: V1Secret | undefined): boolean {
    if (secret === undefined) {
      this.logger.debug('no serving Secret yet; the manager creates it');
      return false;
    }
    const certificatePem = decode(secret?.data?.[TLS_CERT_KEY]);
    const privateKeyPem = decode(secret?.data?.[TLS_KEY_KEY]);
    const [leaf] = parseCertificates(certificatePem);
    if (leaf === undefined || privateKeyPem === undefined)
      return this.refuse('tls.crt or tls.key is missing or unparsable');
    if (leaf.fingerprint === this.loadedFingerprint) return true;
    if (!keyMatches(leaf, privateKeyPem)) return this.refuse('tls.key does not match tls.crt');
    if (this.servers.length === 0) return this.refuse('the HTTPS server is not attached');
    const material = { cert: certificatePem ?? '', key: privateKeyPem };
    try {
      for (const server of this.servers) server.setSecureContext(this.secureContext(material));
      this.material = material;
    } catch (error) {
      return this.refuse(error instanceof Error ? error.message : String(error));
    }
    this.generation++;
    this.loadedFingerprint = leaf.fingerprint;
    this.expiry.observeServing(leaf.notAfter);
    this.logger.log('serving certificate loaded', {
      fingerprint: leaf.fingerprint,
      notAfter: new Date(leaf.notAfter).toISOString(),
    });
    return true;
  }

  /** With the TLS options again: setSecureContext resets what it is not given (TLS_MIN_VERSION included). */
  private secureContext(material: { cert: string; key: string }) {
    return { ...material, ...webhookTlsOptions(this.config.webhook) };
  }

  private refuse(reason: string): false {
    this.failures.inc();
    this.logger.error('serving certificate not loaded, keeping the current one', { reason });
    return false;
  }
}

function decode(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}
