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
    expect(reconciler.forget('pod/ns/pod-x7k2p')).toBe(1);
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
    const shared = pool.allocate('vm/ns/a', 'eth0');
    pool.hold('pod/ns/b', 'net#0', shared, { state: 'committed' });
    reconciler.forget('vm/ns/a');
    expect(pool.holders(shared).map((e) => e.owner)).toEqual(['pod/ns/b']);
    expect(pool.stats().used).toBe(1);
  });
});
