import { MutationExceptionCode } from '../mutation/mutation.exception';

/** Pool gauges of our own. */
export const POOL_SIZE_METRIC = 'kubemacpool_pool_size';
export const POOL_USED_METRIC = 'kubemacpool_pool_used';
export const POOL_ENTRIES_METRIC = 'kubemacpool_pool_entries';
export const POOL_SHARED_METRIC = 'kubemacpool_pool_shared_macs';

/** Upstream's name, deprecated there in favour of kmp_mac_collisions; a live gauge here (docs/metrics.md). */
export const DUPLICATE_VM_MACS_METRIC = 'kubevirt_kmp_duplicate_macs';

/** controller-runtime's webhook series (pkg/webhook/internal/metrics), which upstream's scrapers already read. */
export const WEBHOOK_LATENCY_METRIC = 'controller_runtime_webhook_latency_seconds';
export const WEBHOOK_REQUESTS_METRIC = 'controller_runtime_webhook_requests_total';
export const WEBHOOK_IN_FLIGHT_METRIC = 'controller_runtime_webhook_requests_in_flight';
/** controller-runtime's buckets: prometheus.ExponentialBuckets(10e-9, 10, 12), 10 ns to 1,000 s. */
export const WEBHOOK_LATENCY_BUCKETS: readonly number[] = Array.from({ length: 12 }, (_, i) =>
  Number((1e-8 * 10 ** i).toPrecision(1)),
);

export const ALLOCATION_FAILURES_METRIC = 'kmp_allocation_failures_total';

export const CERTIFICATE_NOT_AFTER_METRIC = 'kubemacpool_certificate_not_after_timestamp_seconds';
export const CERTIFICATE_RENEWAL_METRIC = 'kubemacpool_certificate_renewal_due_timestamp_seconds';

/** One `reason` of kmp_allocation_failures_total: its label value and what it means (docs/metrics.md). */
export interface AllocationFailureReason {
  reason: string;
  description: string;
}

/**
 * The `reason` of each denial code. A Record over the enum, so a new MutationExceptionCode does not compile until it
 * has a reason here.
 */
export const ALLOCATION_FAILURE_REASONS: Readonly<Record<MutationExceptionCode, AllocationFailureReason>> = {
  [MutationExceptionCode.POOL_EXHAUSTED]: {
    reason: 'exhausted',
    description: 'the range had no free MAC left for the request',
  },
  [MutationExceptionCode.POOL_HELD_BACK]: {
    reason: 'held_back',
    description:
      'after a hand-over, the free MACs left lay only in stretches the previous leader claimed, held back for a while',
  },
  [MutationExceptionCode.CLAIM_EXHAUSTED]: {
    reason: 'claim_exhausted',
    description: "the next MAC lay past the leader's claim on the range, which could not be extended in time",
  },
  [MutationExceptionCode.MAC_MALFORMED]: {
    reason: 'invalid_mac',
    description: 'a requested MAC does not parse',
  },
  [MutationExceptionCode.MAC_MULTICAST]: {
    reason: 'multicast',
    description: 'a requested MAC is a group (multicast) address',
  },
  [MutationExceptionCode.MAC_IN_USE]: {
    reason: 'duplicate_rejected',
    description: 'a requested MAC is held by another object and the duplicate policy is Reject',
  },
  [MutationExceptionCode.MAC_DUPLICATE_IN_OBJECT]: {
    reason: 'duplicate_in_object',
    description: 'one MAC on two interfaces of one object, or two interfaces with one name',
  },
  [MutationExceptionCode.TOO_LARGE]: {
    reason: 'too_many_interfaces',
    description: 'the object has more interfaces than the manager serves',
  },
  [MutationExceptionCode.OBJECT_MALFORMED]: {
    reason: 'object_malformed',
    description:
      'the object is malformed (a broken networks annotation, an interface list that is not a list, …)',
  },
  [MutationExceptionCode.REVIEW_MALFORMED]: {
    reason: 'review_malformed',
    description: 'the AdmissionReview itself is malformed (no uid, a request that is not an object, …)',
  },
  [MutationExceptionCode.KIND_UNEXPECTED]: {
    reason: 'kind_unexpected',
    description: 'the webhook was called for a kind it does not serve',
  },
  [MutationExceptionCode.NOT_READY]: {
    reason: 'not_ready',
    description: 'the pool was still being rebuilt from the cluster (the API server retries)',
  },
  [MutationExceptionCode.NOT_LEADER]: {
    reason: 'not_leader',
    description: 'the request needed the pool and this replica was not the leader (the client may retry)',
  },
  [MutationExceptionCode.INTERNAL]: {
    reason: 'internal',
    description: 'an unexpected error on our side (logged with the request uid)',
  },
};
