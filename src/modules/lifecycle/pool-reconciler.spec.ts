import { MacAddress } from '../pool/mac-address';
import { MacPool } from '../pool/mac-pool';
import { MacRange } from '../pool/mac-range';
import { PoolReconciler, isProvisionalOwner } from './pool-reconciler';

const mac = (text: string) => MacAddress.parse(text);

describe('PoolReconciler', () => {
  let pool: MacPool;
  let reconciler: PoolReconciler;
  beforeEach(() => {
    pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:ff'), () => 0);
    reconciler = new PoolReconciler(pool);
  });

  it('commits what the persisted object carries', () => {
    const a = pool.allocate('vm/ns/vm', 'eth0', { since: 10 });
    expect(reconciler.observe('vm/ns/vm', [{ key: 'eth0', mac: a }], 10)).toEqual({
      committed: 1,
      recorded: 0,
      released: 0,
    });
    expect(pool.stats()).toMatchObject({ pending: 0, committed: 1 });
  });

  it('binds a generateName object’s provisional entries to its real name', () => {
    const a = pool.allocate('pod/ns/~uid-1', 'net#0', { since: 5 });
    expect(isProvisionalOwner('pod/ns/~uid-1')).toBe(true);
    reconciler.observe('pod/ns/pod-x7k2p', [{ key: 'net#0', mac: a }], Infinity);
    expect(pool.entriesOf('pod/ns/~uid-1')).toEqual([]);
    expect(pool.entriesOf('pod/ns/pod-x7k2p')).toMatchObject([
      { key: 'net#0', mac: a.value, state: 'committed' },
    ]);
    expect(pool.stats().used).toBe(1);
    expect(reconciler.deleted('pod/ns/pod-x7k2p')).toBe(1);
    expect(pool.stats().used).toBe(0);
  });

  it('records MACs it never admitted, even ones another object holds', () => {
    pool.allocate('pod/other/p', 'net#0');
    reconciler.observe('vm/ns/old', [{ key: 'eth0', mac: mac('02:00:00:00:00:00') }], 0);
    expect(
      pool
        .holders(mac('02:00:00:00:00:00'))
        .map((e) => e.owner)
        .sort(),
    ).toEqual(['pod/other/p', 'vm/ns/old']);
  });

  it('releases a committed MAC the object no longer carries, and keeps a later update’s pending one', () => {
    const old = pool.allocate('vm/ns/vm', 'eth0', { since: 1 });
    reconciler.observe('vm/ns/vm', [{ key: 'eth0', mac: old }], 1);
    const added = pool.allocate('vm/ns/vm', 'eth1', { since: 20 });
    // A status update persisted before the update that added eth1 (timestamp 1 < 20): eth1 stays pending.
    reconciler.observe('vm/ns/vm', [{ key: 'eth0', mac: old }], 1);
    expect(pool.holders(added)).toHaveLength(1);
    // The update is persisted without eth0 (the user dropped it) and with eth1.
    expect(reconciler.observe('vm/ns/vm', [{ key: 'eth1', mac: added }], 20)).toEqual({
      committed: 1,
      recorded: 0,
      released: 1,
    });
    expect(pool.holders(old)).toEqual([]);
  });

  it('releases a pending entry its persisted admission did not keep (a later webhook changed the object)', () => {
    const lost = pool.allocate('vm/ns/vm', 'eth0', { since: 30 });
    reconciler.observe('vm/ns/vm', [], 30);
    expect(pool.holders(lost)).toEqual([]);
  });

  it('never releases another owner’s entry of a shared MAC', () => {
    const shared = pool.allocate('vm/ns/a', 'eth0', { state: 'committed' });
    pool.hold('pod/ns/b', 'net#0', shared, { state: 'committed' });
    reconciler.deleted('vm/ns/a');
    expect(pool.holders(shared).map((e) => e.owner)).toEqual(['pod/ns/b']);
    expect(pool.stats().used).toBe(1);
  });

  it('releases a deleted object’s committed entries but not a same-name successor’s pending one', () => {
    const old = pool.allocate('pod/ns/web-0', 'net#0', { state: 'committed' });
    const next = pool.allocate('pod/ns/web-0', 'net#1', { since: 40, deadline: 100 });
    expect(reconciler.deleted('pod/ns/web-0')).toBe(1);
    expect(pool.holders(old)).toEqual([]);
    expect(pool.holders(next)).toMatchObject([{ owner: 'pod/ns/web-0', state: 'pending' }]);
  });

  it('never lets a pod’s older version release the pending MAC of a successor with the same name', () => {
    const old = pool.allocate('pod/ns/web-0', 'net#0', { state: 'committed' });
    reconciler.deleted('pod/ns/web-0');
    const next = pool.allocate('pod/ns/web-0', 'net#0', { since: 50, deadline: 100 });
    // A late MODIFIED of the terminating predecessor, or a list taken before the successor existed.
    reconciler.observe('pod/ns/web-0', [{ key: 'net#0', mac: old }], -Infinity);
    expect(pool.holders(next)).toMatchObject([{ owner: 'pod/ns/web-0', state: 'pending' }]);
  });

  describe('settling expired pending entries against a fresh list', () => {
    it('commits what a listed object carries, binds a provisional entry, and releases the rest', () => {
      const kept = pool.allocate('vm/ns/vm', 'eth1', { since: 1 });
      const named = pool.allocate('pod/ns/~uid-7', 'net#0', { since: 1 });
      const rejected = pool.allocate('pod/ns/rejected', 'net#0', { since: 1 });
      const listed = new Map([
        ['vm/ns/vm', [{ key: 'eth1', mac: kept }]],
        ['pod/ns/job-x2f9q', [{ key: 'net#0', mac: named }]],
      ]);
      expect(reconciler.settle(pool.expiredPending(Infinity), listed)).toEqual({
        committed: 2,
        recorded: 0,
        released: 1,
      });
      expect(pool.holders(kept)).toMatchObject([{ owner: 'vm/ns/vm', state: 'committed' }]);
      expect(pool.holders(named)).toMatchObject([{ owner: 'pod/ns/job-x2f9q', state: 'committed' }]);
      expect(pool.holders(rejected)).toEqual([]);
    });

    it('keeps a MAC its owner carries under another key (a later webhook reordered the networks)', () => {
      const moved = pool.allocate('pod/ns/p', 'net#0', { since: 1 });
      const listed = new Map([['pod/ns/p', [{ key: 'net#1', mac: moved }]]]);
      expect(reconciler.settle(pool.expiredPending(Infinity), listed)).toMatchObject({
        committed: 1,
        released: 0,
      });
      expect(pool.holders(moved)).toMatchObject([{ owner: 'pod/ns/p', key: 'net#1', state: 'committed' }]);
    });

    it('leaves entries the watch settled since they were picked, and entries it was not given', () => {
      const committedMeanwhile = pool.allocate('pod/ns/a', 'net#0');
      pool.allocate('pod/ns/b', 'net#0'); // released meanwhile
      const expired = pool.expiredPending(Infinity);
      const notGiven = pool.allocate('pod/ns/c', 'net#0');
      reconciler.observe('pod/ns/a', [{ key: 'net#0', mac: committedMeanwhile }], Infinity);
      pool.releaseEntry(pool.entriesOf('pod/ns/b')[0]);
      const again = pool.allocate('pod/ns/b', 'net#0'); // the same owner, admitted again
      expect(reconciler.settle(expired, new Map())).toEqual({ committed: 0, recorded: 0, released: 0 });
      expect(pool.holders(committedMeanwhile)).toMatchObject([{ owner: 'pod/ns/a', state: 'committed' }]);
      expect(pool.holders(again)).toMatchObject([{ owner: 'pod/ns/b', state: 'pending' }]);
      expect(pool.holders(notGiven)).toMatchObject([{ owner: 'pod/ns/c', state: 'pending' }]);
    });
  });
});
