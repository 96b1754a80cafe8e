import { MacAddress } from '../pool/mac-address';
import { MacPool } from '../pool/mac-pool';
import { MacRange } from '../pool/mac-range';
import { MacClaims } from './mac-claims';
import { MutationException, MutationExceptionCode } from './mutation.exception';

// Allocation starts at the range's first MAC (not at a random one), so that it never hands out the MAC the tests
// request themselves.
const pool = () => new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:ff'), () => 0);
const options = { policy: 'Warn' as const, deadline: Date.now() + 60_000 };

describe('MacClaims and the leader fence', () => {
  it('writes while the fence is open and counts what it wrote', () => {
    const p = pool();
    const claims = new MacClaims(p, 'pod/ns/a', { ...options, dryRun: false, fence: () => true });
    claims.allocate(['net1', 'net2']);
    claims.request('net3', MacAddress.parse('02:00:00:00:00:f0'), 'network net3');
    expect(claims.writes).toBe(3);
    expect(p.stats().used).toBe(3);
  });

  it('refuses to write once the fence closed, as NOT_LEADER, writing nothing', () => {
    const p = pool();
    let open = true;
    const claims = new MacClaims(p, 'pod/ns/a', { ...options, dryRun: false, fence: () => open });
    claims.allocate(['net1']);
    open = false;
    let thrown: unknown;
    try {
      claims.allocate(['net2']);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MutationException);
    expect((thrown as MutationException).code).toBe(MutationExceptionCode.NOT_LEADER);
    expect(p.stats().used).toBe(1);
    claims.rollback();
    expect(p.stats().used).toBe(0);
    expect(() => claims.keep('net1', MacAddress.parse('02:00:00:00:00:01'))).toThrow(
      /stopped holding the pool/,
    );
  });

  it('lets a dry run compute its answer whatever the fence says', () => {
    const claims = new MacClaims(pool(), 'pod/ns/a', { ...options, dryRun: true, fence: () => false });
    expect(claims.allocate(['net1'])).toHaveLength(1);
    expect(claims.writes).toBe(1);
  });
});
