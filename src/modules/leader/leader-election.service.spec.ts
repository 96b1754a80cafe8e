import { type Gauge } from 'prom-client';
import { AppConfig } from '../../config/app-config';
import { MacAddress } from '../pool/mac-address';
import { PoolService } from '../pool/pool.service';
import { type LeaseRecord } from './lease-election';
import { LeaderElectionService } from './leader-election.service';
import { type LeaseRepository, type StoredLease } from './lease.repository';

const v = (text: string) => MacAddress.parse(text).value;

/** The one Lease in memory, with resourceVersion checks as the API server makes them. */
class FakeLeases {
  stored: StoredLease | undefined;
  private version = 0;
  writes: LeaseRecord[] = [];

  read = () => Promise.resolve(this.stored === undefined ? undefined : structuredClone(this.stored));
  create = (_namespace: string, _name: string, record: LeaseRecord) => {
    if (this.stored !== undefined) return Promise.reject(Object.assign(new Error('exists'), { code: 409 }));
    return Promise.resolve(this.put(record));
  };
  replace = (_namespace: string, _name: string, record: LeaseRecord, resourceVersion: string) => {
    if (this.stored?.resourceVersion !== resourceVersion)
      return Promise.reject(Object.assign(new Error('conflict'), { code: 409 }));
    return Promise.resolve(this.put(record));
  };
  watch = () => ({ start: () => Promise.resolve(), stop: () => undefined });

  /** Another writer's record (a successor that stepped down, an older build). */
  put(record: LeaseRecord): StoredLease {
    this.stored = { record: structuredClone(record), resourceVersion: String(++this.version) };
    this.writes.push(structuredClone(record));
    return structuredClone(this.stored);
  }
}

function setup(rangeEnd = '02:00:00:00:00:ff') {
  const config = AppConfig.fromEnvironment({
    RANGE_START: '02:00:00:00:00:00',
    RANGE_END: rangeEnd,
    LEADER_ELECTION_IDENTITY: 'a',
  });
  const leases = new FakeLeases();
  const pool = new PoolService(config);
  pool.ready = true;
  const gauge = { set: () => undefined } as unknown as Gauge;
  const service = new LeaderElectionService(config, leases as unknown as LeaseRepository, gauge, pool);
  // One election round, as its timer would run it.
  const round = () => (service as unknown as { tick(): Promise<void> }).tick();
  return { service, leases, pool, round };
}

describe('LeaderElectionService and the hand-over fence', () => {
  it('publishes a claim with its first write, and leaves it in the record it releases', async () => {
    const { service, leases, pool } = setup();
    await service.onApplicationBootstrap();
    await service.beforeApplicationShutdown();
    const claimed = leases.writes[0].claims!.claimed;
    expect(claimed.length).toBeGreaterThan(0);
    expect(service.mayAllocate()).toBe(false);
    expect(leases.stored!.record.holder).toBe('');
    // The release keeps the claims for the next leader.
    expect(leases.stored!.record.claims!.claimed).toEqual(claimed);
    expect(pool.pool.stats().used).toBe(0);
  });

  it('starts a term on taking over a released Lease even while it still thinks it leads: it holds back the claims', async () => {
    const { service, leases, pool, round } = setup();
    await service.onApplicationBootstrap();
    expect(service.mayAllocate()).toBe(true);
    // Meanwhile another replica led, claimed 02:…:10–1f, and released on SIGTERM; this one never saw it.
    const successor = { first: v('02:00:00:00:00:10'), last: v('02:00:00:00:00:1f') };
    leases.put({
      ...leases.stored!.record,
      holder: '',
      durationSeconds: 1,
      claims: { claimed: [successor], inherited: [] },
    });
    await round();
    expect(leases.stored!.record.holder).toBe('a');
    expect(leases.stored!.record.claims!.inherited).toEqual([successor]);
    const macs = pool.pool.preview(240).map((mac) => mac.value);
    expect(macs.some((mac) => mac >= successor.first && mac <= successor.last)).toBe(false);
    await service.beforeApplicationShutdown();
  });

  it('holds back every MAC when the Lease it takes over carries no claims (a writer without the fence)', async () => {
    const { service, leases, pool } = setup();
    leases.put({ holder: '', durationSeconds: 1, transitions: 3, renewTime: '2026-12-02T00:00:00.000000Z' });
    await service.onApplicationBootstrap();
    expect(service.mayAllocate()).toBe(true);
    expect(leases.stored!.record.claims).toEqual({
      claimed: [],
      inherited: [{ first: 0, last: 2 ** 48 - 1 }],
    });
    expect(() => pool.pool.allocate('o', 'k')).toThrow('held back');
    await service.beforeApplicationShutdown();
  });

  it('grows its claim for a request that needs more MACs than it claims ahead', async () => {
    const { service, pool } = setup();
    await service.onApplicationBootstrap();
    // 256 free: the claim ahead is a sixteenth, 16 MACs.
    expect(pool.pool.claimCovers(16)).toBe(true);
    expect(pool.pool.claimCovers(40)).toBe(false);
    await service.growClaim(40);
    expect(pool.pool.claimCovers(40)).toBe(true);
    await service.beforeApplicationShutdown();
  });

  it('claims for every admission waiting at once, so concurrent requests on a small range all fit', async () => {
    const { service, pool } = setup('02:00:00:00:00:0f');
    await service.onApplicationBootstrap();
    // 16 free: the claim ahead is one MAC; four requests of one MAC each find it too small together.
    expect(pool.pool.claimCovers(1)).toBe(true);
    expect(pool.pool.claimCovers(4)).toBe(false);
    await Promise.all([1, 2, 3, 4].map(() => service.growClaim(1)));
    expect(pool.pool.claimCovers(4)).toBe(true);
    await service.beforeApplicationShutdown();
  });
});
