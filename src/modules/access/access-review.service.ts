import { Injectable, Logger, Optional } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, statusCode } from '../kube/kube-errors';
import {
  type AccessReviewResult,
  AccessReviewRepository,
  describeRequest,
  type RequestAttributes,
  type TokenReviewResult,
  type UserInfo,
} from './access-review.repository';
import { type Clock, ExpiringCache } from './expiring-cache';

/** The outcome for one request: allowed, or the HTTP status to refuse it with and a message saying why. */
export type AccessDecision =
  { allowed: true; user: UserInfo } | { allowed: false; status: 401 | 403 | 500; message: string };

/** controller-runtime's filter: a token's review is kept a minute, an allow five, a deny thirty seconds. */
export const CACHE_TTL_MS = { token: 60_000, allowed: 300_000, denied: 30_000 } as const;
/** Bounds, so a flood of distinct tokens or paths cannot grow the caches without limit. */
export const CACHE_CAPACITY = { tokens: 1024, decisions: 4096 } as const;
/** Tries per review while the API server fails, and the back-off before the first retry (doubled). */
const ATTEMPTS = 3;
const BACKOFF_MS = 100;

/**
 * Delegated authentication and authorization of a guarded endpoint, as kube-rbac-proxy does it: the bearer token is
 * reviewed by the API server (TokenReview), then what the request asks (SubjectAccessReview, non-resource path and
 * verb). Anonymous requests are refused. Results are cached (CACHE_TTL_MS), keyed by a hash of the token, never the
 * token itself; API failures are retried with back-off and are never cached.
 */
@Injectable()
export class AccessReviewService {
  private readonly logger = new Logger(AccessReviewService.name);
  private readonly tokens: ExpiringCache<TokenReviewResult>;
  private readonly decisions: ExpiringCache<AccessReviewResult>;

  constructor(
    private readonly reviews: AccessReviewRepository,
    @Optional() clock?: Clock,
  ) {
    this.tokens = new ExpiringCache(CACHE_CAPACITY.tokens, clock);
    this.decisions = new ExpiringCache(CACHE_CAPACITY.decisions, clock);
  }

  /** `authorization`: the request's Authorization header. */
  async check(authorization: string | undefined, attributes: RequestAttributes): Promise<AccessDecision> {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) {
      return {
        allowed: false,
        status: 401,
        message:
          authorization === undefined
            ? 'no bearer token: anonymous requests are refused (send Authorization: Bearer <token>)'
            : 'the Authorization header is not a bearer token (Authorization: Bearer <token>)',
      };
    }
    const what = describeRequest(attributes);
    try {
      const review = await this.reviewToken(token);
      if (!review.authenticated) {
        // What the authenticators said stays in the log: a caller without a valid token learns nothing of them.
        this.logger.debug('a bearer token was not accepted', { request: what, error: review.error });
        return {
          allowed: false,
          status: 401,
          message: 'the bearer token was not accepted by the API server (TokenReview)',
        };
      }
      const access = await this.reviewAccess(review.user, attributes);
      if (!access.allowed) {
        return {
          allowed: false,
          status: 403,
          message: `${review.user.username} may not ${what}${access.reason === '' ? '' : `: ${access.reason}`}`,
        };
      }
      return { allowed: true, user: review.user };
    } catch (error) {
      this.logger.warn('could not review a request with the API server', {
        request: what,
        error: describeError(error),
      });
      // The API server's message (which may name this manager's identity and its RBAC) stays in the log.
      return {
        allowed: false,
        status: 500,
        message:
          'could not review the request with the API server (TokenReview, SubjectAccessReview); retry later',
      };
    }
  }

  private async reviewToken(token: string): Promise<TokenReviewResult> {
    const key = hash(token);
    const cached = this.tokens.get(key);
    if (cached !== undefined) return cached;
    const review = await retried(() => this.reviews.reviewToken(token));
    this.tokens.set(key, review, review.authenticated ? CACHE_TTL_MS.token : CACHE_TTL_MS.denied);
    return review;
  }

  private async reviewAccess(user: UserInfo, attributes: RequestAttributes): Promise<AccessReviewResult> {
    const key = hash(
      JSON.stringify([
        user.username,
        user.uid,
        [...user.groups].sort(),
        user.extra,
        attributes.path,
        attributes.verb,
        attributes.resource,
      ]),
    );
    const cached = this.decisions.get(key);
    if (cached !== undefined) return cached;
    const access = await retried(() => this.reviews.reviewAccess(user, attributes));
    this.decisions.set(key, access, access.allowed ? CACHE_TTL_MS.allowed : CACHE_TTL_MS.denied);
    return access;
  }
}

/** The cache key of a token or a decision: a SHA-256, so keys are small and never hold the token. */
function hash(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}

/** Runs `call` up to ATTEMPTS times while it fails with a server error, a throttle or no answer at all. */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      // A server error or a broken connection is retried; a timeout (the budget is spent) or a throttle (the API
      // server's flow control asks for less) is not.
      const status = statusCode(error);
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      const retryable = status === undefined ? !timedOut : status >= 500;
      if (!retryable || attempt === ATTEMPTS) throw error;
      await sleep(BACKOFF_MS * 2 ** (attempt - 1));
    }
  }
}
