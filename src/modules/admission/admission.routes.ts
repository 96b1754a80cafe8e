import { BadRequestException, HttpException, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type FastifyInstance } from 'fastify';
import { AdmissionMetrics } from '../metrics/admission-metrics.service';
import { type AdmissionReviewResponse, NotAnAdmissionReview } from '../mutation/admission-review';
import { AdmissionService, type WebhookTarget } from './admission.service';
import { FORWARDED_BY_HEADER } from './leader-forwarding.service';
import { POD_WEBHOOK_PATH, VM_WEBHOOK_PATH } from '../../common/webhook-configuration';

/**
 * The two webhook endpoints. An AdmissionReview always gets HTTP 200, its decision inside; a body that is not one
 * gets 400. They are plain Fastify routes rather than a Nest controller: every request of every Pod and VM in the
 * cluster waits for them, and Nest's per-request pipeline (guards, interceptors, pipes — none used here) costs
 * about as much as the decision itself (docs/performance.md).
 *
 * Each handler measures itself as controller-runtime's instrumented webhook does (latency, requests by HTTP status,
 * in flight): two clock reads and two pre-resolved series per request.
 */
@Injectable()
export class AdmissionRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly admission: AdmissionService,
    private readonly metrics: AdmissionMetrics,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    this.route(fastify, POD_WEBHOOK_PATH, 'pods');
    this.route(fastify, VM_WEBHOOK_PATH, 'virtualmachines');
  }

  private route(fastify: FastifyInstance, path: string, target: WebhookTarget): void {
    const instrument = this.metrics.webhook(path);
    fastify.post(path, async (request) => {
      const started = instrument.begin();
      try {
        const forwardedBy = request.headers[FORWARDED_BY_HEADER];
        const answer = await this.review(
          target,
          request.body,
          typeof forwardedBy === 'string' ? forwardedBy : undefined,
        );
        instrument.end(started, 200);
        return answer;
      } catch (error) {
        instrument.end(started, error instanceof HttpException ? error.getStatus() : 500);
        throw error;
      }
    });
  }

  private async review(
    target: WebhookTarget,
    body: unknown,
    forwardedBy: string | undefined,
  ): Promise<AdmissionReviewResponse> {
    try {
      return await this.admission.review(target, body, forwardedBy);
    } catch (error) {
      if (error instanceof NotAnAdmissionReview) {
        throw new BadRequestException(`not an AdmissionReview: ${error.message}`);
      }
      throw error;
    }
  }
}
