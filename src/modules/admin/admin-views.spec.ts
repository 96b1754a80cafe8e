import { MacPool } from '../pool/mac-pool';
import { MacRange } from '../pool/mac-range';
import { AllocationsQuery, MacParams } from './admin.dto';
import { allocationPage, decodeToken, poolView } from './admin-views';
import { DtoPipe } from './dto-pipe';

function pool(): MacPool {
  const pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:ff'));
  for (const name of ['c', 'a', 'b']) {
    pool.allocate(`pod/ns1/${name}`, 'net2');
    pool.allocate(`pod/ns1/${name}`, 'net1');
  }
  pool.allocate('vm/ns2/vm-1', 'default');
  pool.allocate('pod/ns2/p', 'net1');
  return pool;
}

describe('admin views', () => {
  it('counts the pool by kind of owner', () => {
    expect(poolView(pool())).toMatchObject({ size: 256, used: 8, free: 248, byKind: { pod: 7, vm: 1 } });
  });

  it('pages allocations by owner then interface, and every page continues where the last ended', () => {
    const held = pool();
    const whole = allocationPage(held, {}, 1000, undefined);
    expect(whole.continue).toBeUndefined();
    expect(whole.items.map((i) => `${i.kind}/${i.namespace}/${i.name} ${i.interface}`)).toEqual([
      'pod/ns1/a net1',
      'pod/ns1/a net2',
      'pod/ns1/b net1',
      'pod/ns1/b net2',
      'pod/ns1/c net1',
      'pod/ns1/c net2',
      'pod/ns2/p net1',
      'vm/ns2/vm-1 default',
    ]);
    const paged = [];
    let after: [string, string] | undefined;
    for (;;) {
      const page = allocationPage(held, {}, 3, after);
      paged.push(...page.items);
      if (page.continue === undefined) break;
      after = decodeToken(page.continue);
    }
    expect(paged).toEqual(whole.items);
    // Deleted between pages: the next page starts after the position, whatever is left.
    const shrinking = pool();
    const first = allocationPage(shrinking, {}, 2, undefined);
    shrinking.release('pod/ns1/a');
    shrinking.release('pod/ns1/b');
    const next = allocationPage(shrinking, {}, 2, decodeToken(first.continue!));
    expect(next.items.map((i) => i.name)).toEqual(['c', 'c']);
  });

  it('filters by kind, and by namespace with or without a kind', () => {
    const names = (filter: Parameters<typeof allocationPage>[1]) =>
      allocationPage(pool(), filter, 100, undefined).items.map((i) => `${i.namespace}/${i.name}`);
    expect(names({ kind: 'vm' })).toEqual(['ns2/vm-1']);
    expect(names({ namespace: 'ns2' })).toEqual(['ns2/p', 'ns2/vm-1']);
    expect(names({ kind: 'pod', namespace: 'ns2' })).toEqual(['ns2/p']);
  });

  it('takes only tokens it could have returned', () => {
    expect(decodeToken(Buffer.from('["pod/a/b","net1"]').toString('base64url'))).toEqual(['pod/a/b', 'net1']);
    expect(decodeToken('bm90LWEtdG9rZW4')).toBeUndefined();
    expect(decodeToken(Buffer.from('[1,2]').toString('base64url'))).toBeUndefined();
  });
});

describe('DtoPipe', () => {
  it('converts and checks a query, naming each bad field with its value and unknown ones', () => {
    const query = new DtoPipe(AllocationsQuery);
    expect(query.transform({ limit: '5', kind: 'vm' })).toEqual(
      Object.assign(new AllocationsQuery(), { limit: 5, kind: 'vm' }),
    );
    expect(() => query.transform({ limit: '1001', kind: 'x', extra: '1' })).toThrow(
      'extra: unknown parameter; kind=x: must be one of pod, vm; limit=1001: must be an integer from 1 to 1000',
    );
    expect(() => query.transform({ limit: ['1', '2'] })).toThrow(/^limit=\["1","2"\]: must be an integer/);
  });

  it('checks a MAC in any notation the webhook accepts', () => {
    const params = new DtoPipe(MacParams);
    expect(params.transform({ mac: '02-00-00-00-00-01' }).mac).toBe('02-00-00-00-00-01');
    expect(() => params.transform({ mac: '02:00' })).toThrow('mac=02:00: address 02:00: invalid MAC address');
  });
});
