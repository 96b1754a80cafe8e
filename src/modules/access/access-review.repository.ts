import { Injectable } from '@nestjs/common';
import { KubeConnection } from '../kube/kube-connection';
import { kubeJson } from '../kube/kube-http';

/** Who a bearer token belongs to, as the API server's TokenReview says. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/**
 * What a request asks to do: a verb on a non-resource path, or, when `resource` is set, on a resource of an API
 * group (the admin API: Kubernetes' system:discovery lets every authenticated user `get` the paths `/api/*`, so
 * those routes are authorised as `kubemacpool.io` resources instead).
 */
export interface RequestAttributes {
  path: string;
  verb: string;
  resource?: { group: string; resource: string };
}

/** How a refusal names the request: `get /metrics`, or `list allocations.kubemacpool.io`. */
export function describeRequest(attributes: RequestAttributes): string {
  const { verb, path, resource } = attributes;
  return resource === undefined ? `${verb} ${path}` : `${verb} ${resource.resource}.${resource.group}`;
}

export type TokenReviewResult =
  { authenticated: true; user: UserInfo } | { authenticated: false; error: string };

export interface AccessReviewResult {
  allowed: boolean;
  reason: string;
}

/** Per review call: the API server answers these in milliseconds; a slow one is retried (AccessReviewService). */
const REVIEW_TIMEOUT_MS = 5_000;

/**
 * The two reviews the API server makes for delegated authentication and authorization (what kube-rbac-proxy and
 * controller-runtime's metrics filter ask): TokenReview (authentication.k8s.io/v1) and SubjectAccessReview
 * (authorization.k8s.io/v1). Both are creates that store nothing. The manager's ServiceAccount needs `create` on
 * both (the chart's ClusterRole, as system:auth-delegator grants).
 */
@Injectable()
export class AccessReviewRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  async reviewToken(token: string): Promise<TokenReviewResult> {
    const review = await kubeJson<{
      status?: { authenticated?: boolean; user?: Partial<UserInfo>; error?: string };
    }>(this.kubeConfig, {
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/tokenreviews',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      signal: AbortSignal.timeout(REVIEW_TIMEOUT_MS),
    });
    const status = review.status ?? {};
    if (status.authenticated !== true || status.user?.username === undefined) {
      return { authenticated: false, error: status.error || 'the token is not valid' };
    }
    return {
      authenticated: true,
      user: {
        username: status.user.username,
        uid: status.user.uid,
        groups: status.user.groups ?? [],
        extra: status.user.extra,
      },
    };
  }

  async reviewAccess(user: UserInfo, attributes: RequestAttributes): Promise<AccessReviewResult> {
    const review = await kubeJson<{ status?: { allowed?: boolean; denied?: boolean; reason?: string } }>(
      this.kubeConfig,
      {
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            uid: user.uid,
            groups: user.groups,
            extra: user.extra,
            ...(attributes.resource === undefined
              ? { nonResourceAttributes: { path: attributes.path, verb: attributes.verb } }
              : { resourceAttributes: { ...attributes.resource, verb: attributes.verb } }),
          },
        },
        signal: AbortSignal.timeout(REVIEW_TIMEOUT_MS),
      },
    );
    return { allowed: review.status?.allowed === true, reason: review.status?.reason ?? '' };
  }
}
