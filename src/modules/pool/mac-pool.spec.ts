import { seededRandom } from '../../../test/fixtures/seeded-random';
import { MacAddress } from './mac-address';
import { MacPool } from './mac-pool';
import { MacRange } from './mac-range';
import { PoolException, PoolExceptionCode } from './pool.exception';

const mac = (text: string) => MacAddress.parse(text);
const range = (start: string, end: string) => MacRange.parse(start, end);
const atOffset = (offset: number) => () => offset;

function expectCode(action: () => unknown, code: PoolExceptionCode): PoolException {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(PoolException);
  expect((caught as PoolException).code).toBe(code);
  return caught as PoolException;
}

const span = (first: string, last: string) => ({ first: mac(first).value, last: mac(last).value });

function expectExhausted(action: () => unknown): void {
  expect(expectCode(action, PoolExceptionCode.POOL_EXHAUSTED).message).toBe('the range is full');
}

describe('MacPool', () => {
  it('allocates from a random cursor and fails the third allocation of a two-address pool', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:01'), atOffset(1));
    expect(pool.allocate('vm/ns/a', 'eth0').toString()).toBe('02:00:00:00:00:01');
    expect(pool.allocate('vm/ns/b', 'eth0').toString()).toBe('02:00:00:00:00:00');
    expectExhausted(() => pool.allocate('vm/ns/c', 'eth0'));
    expect(pool.stats()).toMatchObject({ size: 2, used: 2, free: 0, pending: 2 });
  });

  it('places the first cursor with the random source, inside the range', () => {
    const sizes: number[] = [];
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:10'), (size) => {
      sizes.push(size);
      return 5;
    });
    expect(sizes).toEqual([17]);
    expect(pool.allocate('o', 'k').toString()).toBe('02:00:00:00:00:05');
  });

  it('does not hand out a just-released MAC again at once (next-fit)', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:0f'), atOffset(0));
    const first = pool.allocate('pod/ns/a', 'net1');
    pool.release('pod/ns/a');
    const second = pool.allocate('pod/ns/b', 'net1');
    expect(second.equals(first)).toBe(false);
    expect(second.toString()).toBe('02:00:00:00:00:01');
  });

  it('wraps once from the end to the start of the range', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:03'), atOffset(3));
    expect(pool.allocate('a', 'k').toString()).toBe('02:00:00:00:00:03');
    expect(pool.allocate('b', 'k').toString()).toBe('02:00:00:00:00:00');
  });

  it('hands out exactly the freed MAC when it is the only free one', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:0f'), atOffset(7));
    const macs = Array.from({ length: 16 }, (_, i) => pool.allocate(`pod/ns/p${i}`, 'net1'));
    expect(new Set(macs.map(String)).size).toBe(16);
    pool.release('pod/ns/p3');
    expect(pool.allocate('pod/ns/new', 'net1').equals(macs[3])).toBe(true);
    expectExhausted(() => pool.allocate('pod/ns/more', 'net1'));
  });

  it('skips requested MACs held inside the range', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:03'), atOffset(0));
    expect(pool.hold('vm/ns/x', 'eth0', mac('02:00:00:00:00:00')).others).toEqual([]);
    expect(pool.allocate('vm/ns/y', 'eth0').toString()).toBe('02:00:00:00:00:01');
  });

  it('records a requested MAC outside the range without touching the bitmap', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:03'), atOffset(0));
    pool.hold('vm/ns/x', 'eth0', mac('0e:00:00:00:00:00'));
    expect(pool.stats()).toMatchObject({ used: 0, outOfRange: 1, pending: 1 });
    expect(pool.holders(mac('0e:00:00:00:00:00')).map((e) => e.owner)).toEqual(['vm/ns/x']);
  });

  it('reports other holders of a requested MAC and keeps both', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:ff'), atOffset(0));
    const taken = pool.allocate('vm/ns/a', 'eth0');
    const first = pool.hold('pod/ns/b', 'net1', taken);
    expect(first.others.map((e) => e.owner)).toEqual(['vm/ns/a']);
    expect(first.created).toBe(true);
    const again = pool.hold('pod/ns/b', 'net1', taken);
    expect(again).toMatchObject({ created: false, entry: first.entry });
    expect(again.others).toHaveLength(1);
    expect(pool.stats().shared).toBe(1);
  });

  it('keeps a shared MAC used while any owner holds it (fixes upstream §13.2)', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:01'), atOffset(0));
    const shared = pool.allocate('vm/ns/a', 'eth0');
    pool.hold('pod/ns/b', 'net1', shared);
    pool.allocate('vm/ns/c', 'eth0');
    pool.release('vm/ns/a');
    expect(pool.holders(shared).map((e) => e.owner)).toEqual(['pod/ns/b']);
    expectExhausted(() => pool.allocate('vm/ns/d', 'eth0'));
    pool.release('pod/ns/b');
    expect(pool.allocate('vm/ns/d', 'eth0').equals(shared)).toBe(true);
  });

  it('releases one MAC of an owner and keeps the rest', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:ff'), atOffset(0));
    const a = pool.allocate('vm/ns/a', 'eth0');
    const b = pool.allocate('vm/ns/a', 'eth1');
    expect(pool.releaseMac('vm/ns/a', a)).toHaveLength(1);
    expect(pool.entriesOf('vm/ns/a').map((e) => e.mac)).toEqual([b.value]);
    expect(pool.stats().used).toBe(1);
  });

  it('keeps a committed entry committed when the owner holds the same MAC again', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:ff'), atOffset(0));
    const held = pool.allocate('vm/ns/a', 'eth0');
    pool.commit('vm/ns/a', held);
    expect(pool.hold('vm/ns/a', 'eth0', held, { deadline: 5 }).entry.state).toBe('committed');
    expect(pool.stats()).toMatchObject({ pending: 0, committed: 1 });
  });

  it('commits pending entries and lists expired ones', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:ff'), atOffset(0));
    const a = pool.allocate('vm/ns/a', 'eth0', { deadline: 1000 });
    const b = pool.allocate('vm/ns/b', 'eth0', { deadline: 5000 });
    expect(pool.expiredPending(2000).map((e) => e.owner)).toEqual(['vm/ns/a']);
    expect(pool.commit('vm/ns/a', a)).toBe(true);
    expect(pool.commit('vm/ns/zzz', b)).toBe(false);
    expect(pool.expiredPending(2000)).toEqual([]);
    expect(pool.stats()).toMatchObject({ pending: 1, committed: 1 });
  });

  it('previews the next MACs without changing the pool or the cursor (dry run)', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:03'), atOffset(2));
    pool.hold('x', 'k', mac('02:00:00:00:00:03'));
    const preview = pool.preview(3).map(String);
    expect(preview).toEqual(['02:00:00:00:00:02', '02:00:00:00:00:00', '02:00:00:00:00:01']);
    expect(pool.stats().used).toBe(1);
    expect([0, 1, 2].map(() => pool.allocate('o', `k${Math.random()}`).toString())).toEqual(preview);
    expectExhausted(() => pool.preview(1));
  });

  it('fails a preview larger than the free space', () => {
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:03'), atOffset(0));
    expectExhausted(() => pool.preview(5));
    expect(pool.preview(4)).toHaveLength(4);
  });

  it('moves future allocations to a new range and keeps existing ones (day-2 change)', () => {
    let next = 0;
    const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:0f'), () => next);
    const old = pool.allocate('vm/ns/a', 'eth0');
    pool.hold('vm/ns/b', 'eth0', mac('02:00:00:00:01:00'));
    next = 0;
    pool.setRange(range('02:00:00:00:01:00', '02:00:00:00:01:01'));
    expect(pool.range.toString()).toBe('02:00:00:00:01:00 - 02:00:00:00:01:01');
    expect(pool.holders(old).map((e) => e.owner)).toEqual(['vm/ns/a']);
    expect(pool.stats()).toMatchObject({ size: 2, used: 1, outOfRange: 1 });
    expect(pool.allocate('vm/ns/c', 'eth0').toString()).toBe('02:00:00:00:01:01');
    expectExhausted(() => pool.allocate('vm/ns/d', 'eth0'));
    pool.release('vm/ns/a');
    expect(pool.stats()).toMatchObject({ used: 2, outOfRange: 0 });
  });

  it('allocates unique MACs until a 2^16 + 5 range is full', () => {
    const size = 65536 + 5;
    const pool = new MacPool(
      range('02:00:00:00:00:00', MacAddress.format(0x020000000000 + size - 1)),
      atOffset(65000),
    );
    const seen = new Set<number>();
    for (let i = 0; i < size; i++) seen.add(pool.allocate(`o${i}`, 'k').value);
    expect(seen.size).toBe(size);
    expectExhausted(() => pool.allocate('last', 'k'));
  });
});

describe('MacPool entries', () => {
  it('tells held entries from released ones, whatever view of them the caller kept', () => {
    const pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:03'), () => 0);
    const entry = pool.allocateEntry('vm/ns/a', 'eth0', { deadline: 5 });
    expect(pool.isCurrent(entry)).toBe(true);
    expect(pool.isCurrent(pool.entriesOf('vm/ns/a')[0])).toBe(true);
    pool.commitEntry(pool.entriesOf('vm/ns/a')[0]);
    expect(entry.state).toBe('committed');
    expect(pool.release('vm/ns/a')).toMatchObject([{ owner: 'vm/ns/a', key: 'eth0', state: 'committed' }]);
    expect(pool.isCurrent(entry)).toBe(false);
    pool.releaseEntry(entry);
    expect(pool.stats()).toMatchObject({ used: 0, pending: 0, committed: 0 });
  });
});

describe('MacPool against a model (randomized, with range changes)', () => {
  it.each([1, 2, 3])('keeps the bitmap and the owner index in step (seed %i)', (seed) => {
    const random = seededRandom(seed);
    const base = 0x020000000000;
    // Ranges over a few MAC chunks (1024 each), overlapping, so allocations fill dense chunks and a range change
    // leaves held MACs outside the new range.
    const ranges = [
      [base + 1000, base + 3999],
      [base + 3000, base + 6999],
      [base, base + 1499],
    ].map(([start, end]) =>
      range(MacAddress.fromValue(start).toString(), MacAddress.fromValue(end).toString()),
    );
    const pool = new MacPool(ranges[0], () => 0);
    let current = ranges[0];
    const held = new Map<string, number[]>();
    const names = Array.from({ length: 3000 }, (_, i) => `vm/ns/o-${i}`);
    for (let step = 0; step < 6000; step++) {
      const op = random();
      const owner = names[Math.floor(random() * names.length)];
      if (op < 0.5) {
        if (pool.stats().free === 0) continue;
        const mac = pool.allocate(owner, `k${step}`).value;
        expect(current.contains(mac)).toBe(true);
        held.set(owner, [...(held.get(owner) ?? []), mac]);
      } else if (op < 0.6) {
        // A requested MAC, in the range, around it or far away.
        const mac = random() < 0.5 ? base + Math.floor(random() * 8000) : Math.floor(random() * 2 ** 48);
        pool.hold(owner, `r${step}`, MacAddress.fromValue(mac));
        held.set(owner, [...(held.get(owner) ?? []), mac]);
      } else if (op < 0.95) {
        const released = pool.release(owner).map((e) => e.mac);
        expect(released).toEqual(held.get(owner) ?? []);
        held.delete(owner);
      } else {
        current = ranges[Math.floor(random() * ranges.length)];
        pool.setRange(current);
      }
      if (step % 200 === 0 || step === 5999) {
        const macs = new Set([...held.values()].flat());
        const inRange = [...macs].filter((mac) => current.contains(mac)).length;
        expect(pool.stats()).toMatchObject({ used: inRange, outOfRange: macs.size - inRange });
        for (const [owner, list] of held) expect(pool.entriesOf(owner).map((e) => e.mac)).toEqual(list);
      }
    }
  });

  describe('allocation bounds (the hand-over fence)', () => {
    const sixteen = () => new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:0f'), atOffset(2));

    it('hands out only MACs inside the claim; past it nothing is taken and the cursor stays', () => {
      const pool = sixteen();
      pool.setBounds({ claim: [span('02:00:00:00:00:02', '02:00:00:00:00:03')], blocked: [] });
      expect(pool.allocate('a', 'k').toString()).toBe('02:00:00:00:00:02');
      expect(pool.allocateEntry('b', 'k').mac).toBe(mac('02:00:00:00:00:03').value);
      const error = expectCode(() => pool.allocate('c', 'k'), PoolExceptionCode.CLAIM_EXHAUSTED);
      expect(error.message).toBe("the next MAC 02:00:00:00:00:04 lies outside this leader's claim");
      expect(pool.stats().used).toBe(2);
      // A preview is not bound by the claim: the real request grows the claim and gets the same MACs.
      expect(pool.preview(2).map(String)).toEqual(['02:00:00:00:00:04', '02:00:00:00:00:05']);
      pool.setBounds({ claim: pool.claimAhead(2), blocked: [] });
      expect(pool.allocate('c', 'k').toString()).toBe('02:00:00:00:00:04');
    });

    it('skips blocked MACs in allocation, preview and claims; when only blocked ones are free it says held back', () => {
      const pool = sixteen();
      pool.setBounds({ blocked: [span('02:00:00:00:00:00', '02:00:00:00:00:0d')] });
      expect(pool.claimAhead(5)).toEqual([span('02:00:00:00:00:02', '02:00:00:00:00:0f')]);
      expect(pool.preview(2).map(String)).toEqual(['02:00:00:00:00:0e', '02:00:00:00:00:0f']);
      pool.allocate('a', 'k');
      pool.allocate('b', 'k');
      const error = expectCode(() => pool.allocate('c', 'k'), PoolExceptionCode.POOL_HELD_BACK);
      expect(error.message).toContain('held back');
      expectCode(() => pool.preview(1), PoolExceptionCode.POOL_HELD_BACK);
      expect(pool.claimAhead(3)).toEqual([]);
      pool.setBounds({ blocked: [] });
      expect(pool.allocate('c', 'k').toString()).toBe('02:00:00:00:00:00');
    });

    it('takes all of a request’s MACs inside the claim or none: the retry gets what the dry run said', () => {
      const pool = sixteen();
      pool.setBounds({ claim: [span('02:00:00:00:00:02', '02:00:00:00:00:03')], blocked: [] });
      expect(pool.claimCovers(2)).toBe(true);
      expect(pool.claimCovers(3)).toBe(false);
      const error = expectCode(() => pool.assertClaimed(3), PoolExceptionCode.CLAIM_EXHAUSTED);
      expect(error.message).toBe("the next 3 MACs lie partly outside this leader's claim");
      expect(pool.stats().used).toBe(0);
      pool.assertClaimed(2);
      // Fewer free than asked: not the claim's business (the allocation says full).
      pool.setBounds({ blocked: [] });
      expect(pool.claimCovers(100)).toBe(true);
    });

    it('claims from the cursor up to the n-th free MAC, split where the range wraps', () => {
      const pool = new MacPool(range('02:00:00:00:00:00', '02:00:00:00:00:0f'), atOffset(14));
      pool.hold('x', 'k', mac('02:00:00:00:00:0f'));
      expect(pool.claimAhead(3)).toEqual([
        span('02:00:00:00:00:0e', '02:00:00:00:00:0f'),
        span('02:00:00:00:00:00', '02:00:00:00:00:01'),
      ]);
    });

    it('keeps the blocked MACs across a range change (they are MACs, not offsets)', () => {
      const pool = sixteen();
      pool.setBounds({ blocked: [span('02:00:00:00:00:08', '02:00:00:00:00:0f')] });
      pool.setRange(range('02:00:00:00:00:0c', '02:00:00:00:00:11'));
      expect(pool.preview(2).map(String)).toEqual(['02:00:00:00:00:10', '02:00:00:00:00:11']);
      expectCode(() => pool.preview(3), PoolExceptionCode.POOL_HELD_BACK);
    });
  });
});
