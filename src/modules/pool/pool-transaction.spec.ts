import { MacAddress } from './mac-address';
import { MacPool } from './mac-pool';
import { MacRange } from './mac-range';
import { PoolTransaction } from './pool-transaction';

describe('PoolTransaction', () => {
  it('rolls back what it added and nothing the owner held before', () => {
    const pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:ff'), () => 0);
    const kept = pool.allocate('vm/ns/a', 'eth0');
    pool.commit('vm/ns/a', kept);
    const tx = new PoolTransaction(pool, 'vm/ns/a', { deadline: 1 });
    expect(tx.hold('eth0', kept)).toEqual([]);
    const added = tx.allocate('eth1');
    tx.hold('eth2', MacAddress.parse('0e:00:00:00:00:01'));
    expect(pool.entriesOf('vm/ns/a')).toHaveLength(3);
    tx.rollback();
    expect(pool.entriesOf('vm/ns/a').map((e) => e.mac)).toEqual([kept.value]);
    expect(pool.holders(added)).toEqual([]);
    expect(pool.stats()).toMatchObject({ used: 1, outOfRange: 0, committed: 1, pending: 0 });
  });

  it('reports other holders of a requested MAC', () => {
    const pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:ff'), () => 0);
    const taken = pool.allocate('pod/ns/p', 'net1');
    const tx = new PoolTransaction(pool, 'vm/ns/a', {});
    expect(tx.hold('eth0', taken).map((e) => e.owner)).toEqual(['pod/ns/p']);
  });
});
