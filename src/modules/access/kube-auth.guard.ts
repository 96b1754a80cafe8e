import { type CanActivate, type ExecutionContext, HttpException, Injectable } from '@nestjs/common';
import { type FastifyRequest } from 'fastify';
import { AccessReviewService } from './access-review.service';

/** The verb a SubjectAccessReview names for an HTTP method on a non-resource path (as the API server maps them). */
const VERBS: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/**
 * Lets a request through only when the API server says its bearer token is a user allowed to use the verb on the
 * path (AccessReviewService); otherwise answers 401, 403 or 500 with the reason, never reaching the handler.
 */
@Injectable()
export class KubeAuthGuard implements CanActivate {
  constructor(private readonly access: AccessReviewService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    // The route that will answer, not the raw target: `/%6detrics`, `/metrics#x` or an absolute-form target reach
    // the `/metrics` route and are reviewed as `/metrics` (and cannot fill the decision cache with variants).
    const path = request.routeOptions?.url ?? request.url.split('?')[0];
    const verb = VERBS[request.method] ?? request.method.toLowerCase();
    const decision = await this.access.check(request.headers.authorization, { path, verb });
    if (!decision.allowed) throw new HttpException(decision.message, decision.status);
    return true;
  }
}
