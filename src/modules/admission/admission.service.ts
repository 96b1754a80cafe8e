import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '../../config/app-config';
import { VirtualMachineAdmissionService } from '../kubevirt/virtual-machine-admission.service';
import { POD_WEBHOOK_PATH, VM_WEBHOOK_PATH } from '../../common/webhook-configuration';
import { LeaderElectionService } from '../leader/leader-election.service';
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
import { ClaimExhaustedException } from '../mutation/mac-claims';
import { MutationException, MutationExceptionCode } from '../mutation/mutation.exception';
import { type Mutation, type Mutator } from '../mutation/mutation';
import { DENIAL_STATUS } from './admission.status';
import { LeaderForwardingService } from './leader-forwarding.service';
import { NamespaceScopeService } from '../namespaces/namespace-scope.service';

export type WebhookTarget = 'pods' | 'virtualmachines';

const WEBHOOK_PATHS: Record<WebhookTarget, string> = {
  pods: POD_WEBHOOK_PATH,
  virtualmachines: VM_WEBHOOK_PATH,
};
/**
 * What a follower keeps of the API server's webhook timeout for its own answer: it waits for a leader and forwards
 * only while the API server still waits for the answer.
 */
const ANSWER_MARGIN_MS = 1_000;
/** The least a forward is given once there is a leader to forward to. */
const FORWARD_MIN_MS = 1_000;
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
    private readonly leader: LeaderElectionService,
    private readonly forwarder: LeaderForwardingService,
    private readonly scope: NamespaceScopeService,
  ) {
    this.mutators = { pods, virtualmachines: virtualMachines };
    this.debug = config.logLevel === 'debug' || config.logLevel === 'verbose';
  }

  /** `forwardedBy`: the replica that forwarded this review here (its header), if one did. */
  async review(target: WebhookTarget, body: unknown, forwardedBy?: string): Promise<AdmissionReviewResponse> {
    // The API server stops waiting for this answer after its webhook timeout from about now.
    const deadline = performance.now() + this.scope.timeoutSeconds(target) * 1000 - ANSWER_MARGIN_MS;
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
      if (!request.dryRun && !this.leader.mayAllocate()) {
        // Not the pool's holder: a dry run tells whether the request needs the pool at all. If not, its answer is
        // the real one; if it does, the leader answers it.
        const preview = await this.mutators[target].mutate({ ...request, dryRun: true });
        if ((preview.poolWrites ?? 0) === 0) return allowed(apiVersion, uid, preview.patch, preview.warnings);
        const answer = await this.forward(target, body, request, forwardedBy, deadline);
        // undefined: while it waited for a leader, this replica became the leader; it answers itself.
        if (answer !== undefined) return answer;
      }
      const mutation = await this.mutateOrForward(target, body, request, forwardedBy, deadline);
      if (!('patch' in mutation)) return mutation;
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

  /**
   * The mutation by this replica; if its leader fence closed while it was admitting (the write was refused and rolled
   * back), the leader's answer instead. When the next MACs lay past this leader's claim on the range, the claim grows
   * (a Lease write) and the request is admitted again, until the webhook's deadline.
   */
  private async mutateOrForward(
    target: WebhookTarget,
    body: unknown,
    request: AdmissionRequest,
    forwardedBy: string | undefined,
    deadline: number,
  ): Promise<Mutation | AdmissionReviewResponse> {
    for (;;) {
      try {
        return await this.mutators[target].mutate(request);
      } catch (error) {
        if (!(error instanceof MutationException)) throw error;
        if (error instanceof ClaimExhaustedException) {
          // The next MACs lie past this leader's claim on the range (nothing was taken): grow it and admit again,
          // only while the API server still waits for the answer (a growth that outlasts it is not waited for).
          const left = deadline - performance.now();
          if (left <= 0) throw error;
          // The timer is unref'd: when the claim grows first, it must not hold a stopping process for the rest.
          await Promise.race([this.leader.growClaim(error.needed), sleep(left, undefined, { ref: false })]);
          if (performance.now() >= deadline) throw error;
          continue;
        }
        if (error.code !== MutationExceptionCode.NOT_LEADER) throw error;
        const answer = await this.forward(target, body, request, forwardedBy, deadline);
        return answer ?? (await this.mutators[target].mutate(request));
      }
    }
  }

  /**
   * The leader's answer to a review that needs the pool, this replica not holding it. The leader is the one this
   * replica saw in the Lease, waited for while there is none for as long as the API server's webhook timeout leaves
   * time to forward (`deadline`, monotonic ms); a review forwarded here already is not forwarded again. When no
   * leader can answer, the denial is retryable (503) and says why.
   */
  private async forward(
    target: WebhookTarget,
    body: unknown,
    request: AdmissionRequest,
    forwardedBy: string | undefined,
    deadline: number,
  ): Promise<AdmissionReviewResponse | undefined> {
    const self = this.leader.identity;
    const what = `${request.kind.kind} ${request.namespace}/${request.name || '(generated name)'} needs MACs from the pool, which only the leader hands out`;
    const refuse = (why: string) =>
      new MutationException(MutationExceptionCode.NOT_LEADER, `${what}; ${why}; retry in a few seconds`);
    if (forwardedBy !== undefined)
      throw refuse(
        `${forwardedBy} forwarded it to this replica (${self}), which is not the leader (any more)`,
      );
    let unreachable: { identity: string; why: string } | undefined;
    let resetOnce = false;
    for (;;) {
      const waitMs = Math.max(0, Math.round(deadline - FORWARD_MIN_MS - performance.now()));
      const leader = await this.leader.waitForLeader(waitMs, unreachable?.identity);
      if (this.leader.mayAllocate()) return undefined;
      if (unreachable !== undefined && (leader === undefined || leader.identity === unreachable.identity))
        throw refuse(unreachable.why);
      if (leader === undefined)
        throw refuse(`this replica (${self}) is not the leader and saw none within ${waitMs} ms`);
      if (leader.identity === self)
        throw refuse(`this replica (${self}) holds the Lease but could not renew it in time`);
      if (leader.url === undefined)
        throw refuse(
          `this replica (${self}) is not the leader, and the leader ${leader.identity} published no address (POD_IP)`,
        );
      try {
        const answer = await this.forwarder.forward(
          leader.url,
          WEBHOOK_PATHS[target],
          body,
          self,
          Math.max(100, Math.round(deadline - performance.now())),
        );
        if (this.debug)
          this.logger.debug('forwarded', { ...fields(request.uid, request), leader: leader.identity });
        return answer;
      } catch (error) {
        const why = `this replica (${self}) is not the leader and could not reach the leader ${leader.identity} at ${leader.url}: ${error instanceof Error ? error.message : String(error)}`;
        // A leader that cannot be connected to, or whose connection broke (killed, its Lease not yet expired), is
        // waited past: the next leader answers, within the API server's timeout. Whatever a leader that died had
        // admitted for this request is held back by the hand-over fence. Any other failure (an answer that is not
        // one, a timeout) may come from a live leader that admitted it; that is not retried.
        if (!isUnreachable(error)) throw refuse(why);
        // A reset may be a live leader closing an idle keep-alive connection as it was reused: try it once more.
        if ((error as { code?: string }).code === 'ECONNRESET' && !resetOnce) {
          resetOnce = true;
          continue;
        }
        unreachable = { identity: leader.identity, why };
      }
    }
  }
}

/** Connection errors: the forward never reached the leader's server, or its connection broke (it died). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

function isUnreachable(error: unknown): boolean {
  return UNREACHABLE_CODES.has((error as { code?: string } | undefined)?.code ?? '');
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
