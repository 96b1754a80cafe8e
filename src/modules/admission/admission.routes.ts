import { BadRequestException, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { type FastifyInstance } from 'fastify';
import { type AdmissionReviewResponse, NotAnAdmissionReview } from '../mutation/admission-review';
import { AdmissionService, type WebhookTarget } from './admission.service';
import { POD_WEBHOOK_PATH, VM_WEBHOOK_PATH } from '../../common/webhook-configuration';

/**
 * The two webhook endpoints. An AdmissionReview always gets HTTP 200, its decision inside; a body that is not one
 * gets 400. They are plain Fastify routes rather than a Nest controller: every request of every Pod and VM in the
 * cluster waits for them, and Nest's per-request pipeline (guards, interceptors, pipes — none used here) costs
 * about as much as the decision itself (docs/performance.md).
 */
@Injectable()
export class AdmissionRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly admission: AdmissionService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.post(POD_WEBHOOK_PATH, (request) => this.review('pods', request.body));
    fastify.post(VM_WEBHOOK_PATH, (request) => this.review('virtualmachines', request.body));
  }

  private async review(target: WebhookTarget, body: unknown): Promise<AdmissionReviewResponse> {
    try {
      return await this.admission.review(target, body);
    } catch (error) {
      if (error instanceof NotAnAdmissionReview) {
        throw new BadRequestException(`not an AdmissionReview: ${error.message}`);
      }
      throw error;
    }
  }
}
