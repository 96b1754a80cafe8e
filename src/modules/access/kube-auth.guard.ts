import {
  type CanActivate,
  type ExecutionContext,
  HttpException,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type FastifyRequest } from 'fastify';
import { type RequestAttributes } from './access-review.repository';
import { AccessReviewService } from './access-review.service';

/** The API group the admin API's resources are authorised in (RBAC rules name it; nothing is stored there). */
export const ACCESS_GROUP = 'kubemacpool.io';

const RESOURCE_METADATA = 'kubemacpool:access-resource';

/**
 * Authorises a route as `verb` on `resource` of the kubemacpool.io group instead of its path, e.g.
 * `@AccessResource('allocations', 'list')`.
 */
export const AccessResource = (resource: string, verb: 'get' | 'list') =>
  SetMetadata(RESOURCE_METADATA, { resource, verb });

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
 * path, or on the route's AccessResource (AccessReviewService); otherwise answers 401, 403 or 500 with the reason,
 * never reaching the handler (nor its validation).
 */
@Injectable()
export class KubeAuthGuard implements CanActivate {
  constructor(
    private readonly access: AccessReviewService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    // The route that will answer, not the raw target: `/%6detrics`, `/metrics#x` or an absolute-form target reach
    // the `/metrics` route and are reviewed as `/metrics` (and cannot fill the decision cache with variants).
    const path = request.routeOptions?.url ?? request.url.split('?')[0];
    const resource = this.reflector.get<{ resource: string; verb: string } | undefined>(
      RESOURCE_METADATA,
      context.getHandler(),
    );
    const attributes: RequestAttributes =
      resource === undefined
        ? { path, verb: VERBS[request.method] ?? request.method.toLowerCase() }
        : { path, verb: resource.verb, resource: { group: ACCESS_GROUP, resource: resource.resource } };
    const decision = await this.access.check(request.headers.authorization, attributes);
    if (!decision.allowed) throw new HttpException(decision.message, decision.status);
    return true;
  }
}
