import { type ExecutionContext, HttpException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type AccessDecision, type AccessReviewService } from './access-review.service';
import { type RequestAttributes } from './access-review.repository';
import { AccessResource, KubeAuthGuard } from './kube-auth.guard';

class Routes {
  @AccessResource('allocations', 'list')
  allocations(): void {}
  plain(): void {}
}

function context(
  method: string,
  url: string,
  authorization?: string,
  route?: string,
  handler: () => void = Routes.prototype.plain,
): ExecutionContext {
  const request = {
    method,
    url,
    headers: authorization === undefined ? {} : { authorization },
    ...(route === undefined ? {} : { routeOptions: { url: route } }),
  };
  return {
    switchToHttp: () => ({ getRequest: () => request }),
    getHandler: () => handler,
  } as unknown as ExecutionContext;
}

describe('KubeAuthGuard', () => {
  const asked: { authorization: string | undefined; attributes: RequestAttributes }[] = [];
  let decision: AccessDecision = { allowed: true, user: { username: 'u', groups: [] } };
  const guard = new KubeAuthGuard(
    {
      check: (authorization: string | undefined, attributes: RequestAttributes) => {
        asked.push({ authorization, attributes });
        return Promise.resolve(decision);
      },
    } as unknown as AccessReviewService,
    new Reflector(),
  );

  it('asks for the path without its query and the verb the API server names for the method', async () => {
    await guard.canActivate(context('GET', '/metrics?name[]=x', 'Bearer t'));
    await guard.canActivate(context('HEAD', '/metrics'));
    await guard.canActivate(context('POST', '/x'));
    await guard.canActivate(context('DELETE', '/x'));
    expect(asked.map((a) => `${a.attributes.verb} ${a.attributes.path}`)).toEqual([
      'get /metrics',
      'get /metrics',
      'create /x',
      'delete /x',
    ]);
    expect(asked[0].authorization).toBe('Bearer t');
  });

  it('reviews the route that answers, not the raw target (encoded or absolute-form variants of a path)', async () => {
    asked.length = 0;
    await guard.canActivate(context('GET', '/%6detrics', 'Bearer t', '/metrics'));
    await guard.canActivate(context('GET', 'https://x/metrics', 'Bearer t', '/metrics'));
    expect(asked.map((a) => a.attributes.path)).toEqual(['/metrics', '/metrics']);
  });

  it('asks for the verb on the kubemacpool.io resource of a route marked AccessResource, not its path', async () => {
    asked.length = 0;
    await guard.canActivate(
      context(
        'GET',
        '/api/v1/allocations?limit=1',
        'Bearer t',
        '/api/v1/allocations',
        Routes.prototype.allocations,
      ),
    );
    expect(asked.map((a) => a.attributes)).toEqual([
      {
        path: '/api/v1/allocations',
        verb: 'list',
        resource: { group: 'kubemacpool.io', resource: 'allocations' },
      },
    ]);
  });

  it('refuses with the decision’s status and message', async () => {
    decision = { allowed: false, status: 403, message: 'u may not get /metrics' };
    const refusal = await guard
      .canActivate(context('GET', '/metrics', 'Bearer t'))
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(HttpException);
    expect((refusal as HttpException).getStatus()).toBe(403);
    expect((refusal as HttpException).message).toBe('u may not get /metrics');
  });
});
