import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Agent, request } from 'node:https';
import { AppConfig } from '../../config/app-config';
import { SERVICE_NAME } from '../../common/webhook-configuration';
import { CertificateManagerService } from '../certificates/certificate-manager.service';
import { type AdmissionReviewResponse } from '../mutation/admission-review';

/** The header a forwarded review carries: the identity of the replica that forwarded it (no second hop). */
export const FORWARDED_BY_HEADER = 'x-kubemacpool-forwarded-by';

/**
 * Hands an AdmissionReview to the leader and returns its answer. The leader is verified as the API server verifies
 * any replica: its certificate must chain to the webhook CA and name the webhook Service
 * (`kubemacpool-service.<namespace>.svc`), whatever address it is reached at, so a forward never goes to a process
 * that is not a manager of this installation.
 */
@Injectable()
export class LeaderForwardingService implements OnModuleDestroy {
  private agent: Agent | undefined;
  private agentCa: string | undefined;
  private readonly servername: string;

  constructor(
    config: AppConfig,
    private readonly certificates: CertificateManagerService,
  ) {
    this.servername = `${SERVICE_NAME}.${config.namespace}.svc`;
  }

  /** `timeoutMs`: what is left of the API server's webhook timeout for this request. */
  async forward(
    url: string,
    path: string,
    body: unknown,
    forwardedBy: string,
    timeoutMs: number,
  ): Promise<AdmissionReviewResponse> {
    const answer = await this.send(
      url,
      path,
      'POST',
      { [FORWARDED_BY_HEADER]: forwardedBy },
      timeoutMs,
      body,
    );
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
    try {
      return JSON.parse(answer.text) as AdmissionReviewResponse;
    } catch {
      throw new Error(`an answer that is not JSON: ${answer.text.slice(0, 200)}`);
    }
  }

  /** A GET of `path` (query included) at the leader's `url`, verified as forward() verifies it; any status. */
  get(
    url: string,
    path: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; text: string; contentType: string }> {
    return this.send(url, path, 'GET', headers, timeoutMs);
  }

  private send(
    url: string,
    path: string,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    timeoutMs: number,
    body?: unknown,
  ): Promise<{ status: number; text: string; contentType: string }> {
    const ca = this.certificates.trustedCaPem;
    if (ca === undefined) return Promise.reject(new Error('the webhook CA is not known yet'));
    const target = new URL(path, url);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: target.hostname.replace(/^\[|\]$/g, ''),
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method,
          agent: this.agentFor(ca),
          servername: this.servername,
          timeout: timeoutMs,
          headers: {
            ...headers,
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': payload.length }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              contentType: String(response.headers['content-type'] ?? ''),
            }),
          );
          response.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** One keep-alive agent per CA bundle: a new CA gets new connections, verified against it. */
  private agentFor(ca: string): Agent {
    if (this.agent === undefined || this.agentCa !== ca) {
      this.agent?.destroy();
      this.agent = new Agent({ keepAlive: true, ca, minVersion: 'TLSv1.2' });
      this.agentCa = ca;
    }
    return this.agent;
  }

  onModuleDestroy(): void {
    this.agent?.destroy();
  }
}
