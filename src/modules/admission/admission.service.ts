import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { VirtualMachineAdmissionService } from '../kubevirt/virtual-machine-admission.service';
import { AdmissionMetrics } from '../metrics/admission-metrics.service';
import { PodAdmissionService } from '../pods/pod-admission.service';
import { PoolService } from '../pool/pool.service';
import {
  type AdmissionRequest,
  type AdmissionReviewResponse,
  allowed,
  decodeRequest,
  denied,
  reviewEnvelope,
} from '../mutation/admission-review';
import { MutationException, MutationExceptionCode } from '../mutation/mutation.exception';
import { type Mutator } from '../mutation/mutation';
import { DENIAL_STATUS } from './admission.status';

export type WebhookTarget = 'pods' | 'virtualmachines';

const EXPECTED_KIND: Record<WebhookTarget, { group: string; kind: string }> = {
  pods: { group: '', kind: 'Pod' },
  virtualmachines: { group: 'kubevirt.io', kind: 'VirtualMachine' },
};

/**
 * Answers AdmissionReviews: decodes, checks the kind matches the webhook, runs the mutator and wraps its decision.
 * Every failure becomes a denial with a code and a message naming the object and the value — never an exception
 * out of here, never a stack in the answer. Only a body that is not an AdmissionReview at all (nothing to answer)
 * escapes, as NotAnAdmissionReview, for the controller to turn into HTTP 400.
 */
@Injectable()
export class AdmissionService {
  private readonly logger = new Logger(AdmissionService.name);
  private readonly mutators: Record<WebhookTarget, Mutator>;

  /** Request logs are debug level; building their text on every request would cost even when it is not printed. */
  private readonly debug: boolean;

  constructor(
    pods: PodAdmissionService,
    virtualMachines: VirtualMachineAdmissionService,
    config: AppConfig,
    private readonly pool: PoolService,
    private readonly metrics: AdmissionMetrics,
  ) {
    this.mutators = { pods, virtualmachines: virtualMachines };
    this.debug = config.logLevel === 'debug' || config.logLevel === 'verbose';
  }

  async review(target: WebhookTarget, body: unknown): Promise<AdmissionReviewResponse> {
    const { apiVersion, uid, request: raw } = reviewEnvelope(body);
    let request: AdmissionRequest | undefined;
    try {
      request = decodeRequest(uid, raw);
      const expected = EXPECTED_KIND[target];
      if (request.kind.kind !== expected.kind || request.kind.group !== expected.group) {
        throw new MutationException(
          MutationExceptionCode.KIND_UNEXPECTED,
          `the ${target} webhook got a ${request.kind.group || 'core'}/${request.kind.version} ${request.kind.kind}`,
        );
      }
      if (!this.pool.ready) {
        throw new MutationException(
          MutationExceptionCode.NOT_READY,
          'the MAC pool is still being rebuilt from the cluster; retry in a few seconds',
        );
      }
      const mutation = await this.mutators[target].mutate(request);
      if (this.debug) this.logger.debug('admitted', { ...fields(uid, request), macs: mutation.macs });
      return allowed(apiVersion, uid, mutation.patch, mutation.warnings);
    } catch (error) {
      if (error instanceof MutationException) {
        this.metrics.allocationFailed(error.code);
        if (this.debug) {
          this.logger.debug('denied', {
            ...fields(uid, request),
            code: error.code,
            reason: error.message,
          });
        }
        return denied(apiVersion, uid, DENIAL_STATUS[error.code], error.message);
      }
      this.metrics.allocationFailed(MutationExceptionCode.INTERNAL);
      this.logger.error('admission failed', {
        ...fields(uid, request),
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      return denied(
        apiVersion,
        uid,
        DENIAL_STATUS[MutationExceptionCode.INTERNAL],
        `internal error while admitting request ${uid}`,
      );
    }
  }
}

/** The request's identity as log fields; what could not be decoded is left out. */
function fields(uid: string, request: AdmissionRequest | undefined): Record<string, unknown> {
  if (request === undefined) return { uid };
  return {
    uid,
    kind: request.kind.kind,
    namespace: request.namespace,
    name: request.name,
    operation: request.operation,
    dryRun: request.dryRun,
  };
}
