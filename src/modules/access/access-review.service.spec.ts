import { KubeApiError } from '../kube/kube-errors';
import {
  type AccessReviewRepository,
  type RequestAttributes,
  type TokenReviewResult,
  type UserInfo,
} from './access-review.repository';
import { AccessReviewService, CACHE_CAPACITY } from './access-review.service';

const METRICS: RequestAttributes = { path: '/metrics', verb: 'get' };
const reader: UserInfo = {
  username: 'system:serviceaccount:monitoring:prometheus',
  groups: ['system:serviceaccounts'],
};

function setup(
  rules: { tokens?: Record<string, UserInfo>; allowed?: Set<string>; failures?: unknown[] } = {},
) {
  let now = 0;
  const calls = { token: 0, access: 0 };
  const failures = [...(rules.failures ?? [])];
  const repository = {
    reviewToken: (token: string): Promise<TokenReviewResult> => {
      calls.token++;
      const failure = failures.shift();
      if (failure !== undefined) return Promise.reject(failure);
      const user = (rules.tokens ?? { good: reader })[token];
      return Promise.resolve(
        user === undefined
          ? { authenticated: false, error: 'token lookup failed' }
          : { authenticated: true, user },
      );
    },
    reviewAccess: (user: UserInfo, attributes: RequestAttributes) => {
      calls.access++;
      const allowed = (rules.allowed ?? new Set([`${reader.username} get /metrics`])).has(
        `${user.username} ${attributes.verb} ${attributes.path}`,
      );
      return Promise.resolve({ allowed, reason: allowed ? 'RBAC: allowed' : '' });
    },
  } as unknown as AccessReviewRepository;
  const service = new AccessReviewService(repository, () => now);
  return { service, calls, advance: (ms: number) => (now += ms) };
}

describe('AccessReviewService', () => {
  it('refuses anonymous requests and other schemes with 401, before asking the API server', async () => {
    const { service, calls } = setup();
    expect(await service.check(undefined, METRICS)).toEqual({
      allowed: false,
      status: 401,
      message: 'no bearer token: anonymous requests are refused (send Authorization: Bearer <token>)',
    });
    expect(await service.check('Basic dXNlcjpwYXNz', METRICS)).toMatchObject({ allowed: false, status: 401 });
    expect(await service.check('Bearer ', METRICS)).toMatchObject({ status: 401 });
    expect(calls).toEqual({ token: 0, access: 0 });
  });

  it('answers 401 for a token the API server does not accept, 403 naming the user and request, else allows', async () => {
    const { service } = setup();
    expect(await service.check('Bearer bad', METRICS)).toEqual({
      allowed: false,
      status: 401,
      message: 'the bearer token was not accepted by the API server (TokenReview)',
    });
    expect(await service.check('Bearer good', { path: '/api/v1/pool', verb: 'get' })).toEqual({
      allowed: false,
      status: 403,
      message: 'system:serviceaccount:monitoring:prometheus may not get /api/v1/pool',
    });
    expect(await service.check('bearer good', METRICS)).toEqual({ allowed: true, user: reader });
  });

  it('caches a token a minute, an allow five minutes and a deny thirty seconds', async () => {
    const { service, calls, advance } = setup();
    await service.check('Bearer good', METRICS);
    await service.check('Bearer good', { path: '/other', verb: 'get' });
    expect(calls).toEqual({ token: 1, access: 2 });
    advance(29_999);
    await service.check('Bearer good', METRICS);
    await service.check('Bearer good', { path: '/other', verb: 'get' });
    expect(calls).toEqual({ token: 1, access: 2 });
    advance(1);
    await service.check('Bearer good', { path: '/other', verb: 'get' }); // the deny expired
    expect(calls).toEqual({ token: 1, access: 3 });
    advance(30_000);
    await service.check('Bearer good', METRICS); // the token review expired at one minute, the allow did not
    expect(calls).toEqual({ token: 2, access: 3 });
    advance(240_000);
    await service.check('Bearer good', METRICS);
    expect(calls).toEqual({ token: 3, access: 4 });
  });

  it('retries the API server on a server error or no answer, never caches a failure, and answers 500 at last', async () => {
    const unavailable = new KubeApiError(
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      503,
      '{"message":"busy"}',
    );
    const retried = setup({ failures: [unavailable, new Error('socket hang up')] });
    expect(await retried.service.check('Bearer good', METRICS)).toMatchObject({ allowed: true });
    expect(retried.calls.token).toBe(3);

    const down = setup({ failures: [unavailable, unavailable, unavailable] });
    const decision = await down.service.check('Bearer good', METRICS);
    expect(decision).toMatchObject({ allowed: false, status: 500 });
    expect((decision as { message: string }).message).toContain(
      'could not review the request with the API server',
    );
    expect((decision as { message: string }).message).not.toContain('busy');
    expect(await down.service.check('Bearer good', METRICS)).toMatchObject({ allowed: true });

    const forbidden = new KubeApiError(
      'POST',
      '/apis/authentication.k8s.io/v1/tokenreviews',
      403,
      '{"message":"no"}',
    );
    const refused = setup({ failures: [forbidden] });
    expect(await refused.service.check('Bearer good', METRICS)).toMatchObject({ status: 500 });
    expect(refused.calls.token).toBe(1);
  });

  it('keeps its caches bounded', async () => {
    const tokens = Object.fromEntries(
      Array.from({ length: CACHE_CAPACITY.tokens + 10 }, (_, i) => [
        `t${i}`,
        { ...reader, username: `u${i}` },
      ]),
    );
    const { service, calls } = setup({ tokens });
    for (const token of Object.keys(tokens)) await service.check(`Bearer ${token}`, METRICS);
    await service.check('Bearer t0', METRICS); // evicted as the least recently used
    expect(calls.token).toBe(CACHE_CAPACITY.tokens + 11);
  });
});
