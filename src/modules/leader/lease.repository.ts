import { Injectable } from '@nestjs/common';
import { type V1Lease } from '@kubernetes/client-node';
import { KubeConnection } from '../kube/kube-connection';
import { isNotFound } from '../kube/kube-errors';
import { kubeJson } from '../kube/kube-http';
import { type CollectionWatch, ResourceWatch, type WatchEventType } from '../kube/resource-watch';
import { type LeaseRecord } from './lease-election';
import { formatClaims, parseClaims } from './range-claims';

/** Annotation on the Lease with the holder's webhook URL, for followers to reach the leader. */
export const LEADER_URL_ANNOTATION = 'kubemacpool.io/leader-url';

/** Annotation on the Lease with the holder's claims on the range (JSON, see range-claims.ts). */
export const CLAIMS_ANNOTATION = 'kubemacpool.io/claims';

function leasePath(namespace: string, name?: string): string {
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? collection : `${collection}/${encodeURIComponent(name)}`;
}

/** The Lease's record and resourceVersion. */
export interface StoredLease {
  record: LeaseRecord;
  resourceVersion: string;
}

function toRecord(lease: V1Lease): StoredLease {
  const spec = lease.spec ?? {};
  const time = (value: unknown) =>
    value === undefined || value === null
      ? undefined
      : value instanceof Date
        ? value.toISOString()
        : String(value);
  const annotations = lease.metadata?.annotations ?? {};
  const claims = CLAIMS_ANNOTATION in annotations ? parseClaims(annotations[CLAIMS_ANNOTATION]) : undefined;
  return {
    record: {
      holder: spec.holderIdentity ?? '',
      durationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: time(spec.acquireTime),
      renewTime: time(spec.renewTime),
      transitions: spec.leaseTransitions ?? 0,
      url: annotations[LEADER_URL_ANNOTATION],
      claims: claims?.claims,
      claimsProblem: claims?.problem,
    },
    resourceVersion: lease.metadata?.resourceVersion ?? '',
  };
}

function body(namespace: string, name: string, record: LeaseRecord, resourceVersion?: string): object {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
      annotations: {
        ...(record.url === undefined ? {} : { [LEADER_URL_ANNOTATION]: record.url }),
        ...(record.claims === undefined ? {} : { [CLAIMS_ANNOTATION]: formatClaims(record.claims) }),
      },
    },
    spec: {
      holderIdentity: record.holder,
      leaseDurationSeconds: record.durationSeconds,
      acquireTime: record.acquireTime,
      renewTime: record.renewTime,
      leaseTransitions: record.transitions,
    },
  };
}

/**
 * The election's one Lease. Writes carry the resourceVersion that was read, so two replicas racing for it cannot
 * both win: the second gets 409.
 */
@Injectable()
export class LeaseRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  async read(namespace: string, name: string): Promise<StoredLease | undefined> {
    try {
      return toRecord(await kubeJson<V1Lease>(this.kubeConfig, { path: leasePath(namespace, name) }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Lists then watches the one Lease by name (a field selector, which is what lets RBAC resourceNames cover it):
   * `onChange` gets every version of it, `undefined` once it is gone.
   */
  watch(
    namespace: string,
    name: string,
    onChange: (lease: StoredLease | undefined, type: WatchEventType | 'SYNC') => void,
  ): CollectionWatch {
    return new ResourceWatch<V1Lease>(this.kubeConfig, {
      path: leasePath(namespace),
      query: { fieldSelector: `metadata.name=${name}` },
      onSync: (items) => onChange(items[0] === undefined ? undefined : toRecord(items[0]), 'SYNC'),
      onEvent: (type, lease) => onChange(type === 'DELETED' ? undefined : toRecord(lease), type),
      onError: () => undefined,
    });
  }

  async create(namespace: string, name: string, record: LeaseRecord): Promise<StoredLease> {
    return toRecord(
      await kubeJson<V1Lease>(this.kubeConfig, {
        method: 'POST',
        path: leasePath(namespace),
        body: body(namespace, name, record),
      }),
    );
  }

  async replace(
    namespace: string,
    name: string,
    record: LeaseRecord,
    resourceVersion: string,
  ): Promise<StoredLease> {
    return toRecord(
      await kubeJson<V1Lease>(this.kubeConfig, {
        method: 'PUT',
        path: leasePath(namespace, name),
        body: body(namespace, name, record, resourceVersion),
      }),
    );
  }
}
