import { seededRandom } from '../../../test/fixtures/seeded-random';
import { OwnerIndex } from './owner-index';

describe('OwnerIndex', () => {
  it('indexes entries by MAC and by owner', () => {
    const index = new OwnerIndex();
    index.upsert('vm/ns/a', 'eth0', 1, 'pending', 100);
    index.upsert('vm/ns/a', 'eth1', 2, 'committed', 0);
    expect(index.holders(1).map((e) => e.owner)).toEqual(['vm/ns/a']);
    expect(index.entriesOf('vm/ns/a').map((e) => e.mac)).toEqual([1, 2]);
    expect(index.macCount).toBe(2);
    expect(index.pendingCount).toBe(1);
    expect(index.committedCount).toBe(1);
  });

  it('is idempotent for the same owner, key and MAC', () => {
    const index = new OwnerIndex();
    const first = index.upsert('pod/ns/p', 'net1', 7, 'pending', 10);
    const again = index.upsert('pod/ns/p', 'net1', 7, 'committed', 0);
    // Views of one entry are distinct objects: the same entry is the same row, and the first view reads it live.
    expect(again).toEqual(first);
    expect(index.isCurrent(first)).toBe(true);
    expect(first.state).toBe('committed');
    expect(index.holders(7)).toHaveLength(1);
    expect(index.pendingCount).toBe(0);
    expect(index.committedCount).toBe(1);
  });

  it('keeps the other owner when one owner of a shared MAC is removed (upstream bug §13.2)', () => {
    const index = new OwnerIndex();
    const a = index.upsert('vm/ns/a', 'eth0', 9, 'committed', 0);
    const b = index.upsert('pod/ns/b', 'net1', 9, 'committed', 0);
    expect(index.sharedMacCount).toBe(1);
    expect(index.remove(a)).toBe(false);
    expect(index.holders(9)).toEqual([b]);
    expect(index.isHeld(9)).toBe(true);
    expect(index.sharedMacCount).toBe(0);
    expect(index.remove(b)).toBe(true);
    expect(index.isHeld(9)).toBe(false);
    expect(index.ownerCount).toBe(0);
  });

  it('does not count one owner holding a MAC under two keys as shared', () => {
    const index = new OwnerIndex();
    index.upsert('pod/ns/p', 'net1', 3, 'committed', 0);
    index.upsert('pod/ns/p', 'net2', 3, 'committed', 0);
    expect(index.holders(3)).toHaveLength(2);
    expect(index.sharedMacCount).toBe(0);
    index.upsert('pod/ns/q', 'net1', 3, 'committed', 0);
    expect(index.sharedMacCount).toBe(1);
  });

  it('counts the MACs two or more VM entries hold, up and down, leaving pods out', () => {
    const index = new OwnerIndex();
    const a = index.upsert('vm/ns/a', 'eth0', 5, 'committed', 0);
    index.upsert('pod/ns/p', 'net1', 5, 'committed', 0);
    expect(index.trackedDuplicateMacCount).toBe(0);
    const b = index.upsert('vm/ns/b', 'eth0', 5, 'pending', 1);
    expect(index.trackedDuplicateMacCount).toBe(1);
    // A third VM and a re-admission of one already counted leave it at one MAC.
    index.upsert('vm/ns/c', 'eth0', 5, 'committed', 0);
    index.upsert('vm/ns/b', 'eth0', 5, 'committed', 0);
    expect(index.trackedDuplicateMacCount).toBe(1);
    index.remove(a);
    expect(index.trackedDuplicateMacCount).toBe(1);
    index.remove(b);
    expect(index.trackedDuplicateMacCount).toBe(0);
    // Two interfaces of one VM with one MAC are two VM interfaces holding it.
    index.upsert('vm/ns/d', 'eth0', 6, 'committed', 0);
    index.upsert('vm/ns/d', 'eth1', 6, 'committed', 0);
    expect(index.trackedDuplicateMacCount).toBe(1);
    index.removeAll('vm/ns/d', () => undefined);
    expect(index.trackedDuplicateMacCount).toBe(0);
    expect(index.sharedMacCount).toBe(1);
  });

  it('tells tracked owners by their name prefix, in the arena or kept as strings', () => {
    const index = new OwnerIndex('vm/');
    index.upsert('vm', 'eth0', 1, 'committed', 0);
    index.upsert('vmx/ns/a', 'eth0', 1, 'committed', 0);
    index.upsert('', 'eth0', 1, 'committed', 0);
    expect(index.trackedDuplicateMacCount).toBe(0);
    index.upsert('vm/ns/名前', 'eth0', 2, 'committed', 0);
    index.upsert(`vm/ns/${'x'.repeat(5000)}`, 'eth0', 2, 'committed', 0);
    expect(index.trackedDuplicateMacCount).toBe(1);
    expect(new OwnerIndex('').trackedDuplicateMacCount).toBe(0);
    expect(() => new OwnerIndex('名/')).toThrow(RangeError);
  });

  it('refuses to remove an entry it does not hold', () => {
    const index = new OwnerIndex();
    const entry = index.upsert('vm/ns/a', 'eth0', 1, 'pending', 0);
    expect(index.remove({ ...entry })).toBe(false);
    expect(index.isHeld(1)).toBe(true);
  });

  it('tracks pending entries through state changes', () => {
    const index = new OwnerIndex();
    const entry = index.upsert('vm/ns/a', 'eth0', 1, 'pending', 50);
    expect([...index.pending()]).toEqual([entry]);
    index.setState(entry, 'committed', 0);
    expect([...index.pending()]).toEqual([]);
    expect(index.committedCount).toBe(1);
    index.remove(entry);
    expect(index.committedCount).toBe(0);
  });
});

describe('OwnerIndex views and storage', () => {
  it('tells a removed entry from a new one in its reused row', () => {
    const index = new OwnerIndex();
    const old = index.upsert('pod/ns/a', 'net1', 5, 'pending', 10);
    expect(index.remove(old)).toBe(true);
    const reused = index.upsert('pod/ns/a', 'net1', 5, 'committed', 0);
    expect(index.isCurrent(old)).toBe(false);
    expect(index.isCurrent(reused)).toBe(true);
    // The stale view keeps what it last read and removes nothing.
    expect(old.state).toBe('pending');
    expect(old.deadline).toBe(10);
    expect(index.remove(old)).toBe(false);
    expect(index.holders(5)).toHaveLength(1);
  });

  it('reads state and deadline live while the entry is held', () => {
    const index = new OwnerIndex();
    const view = index.upsert('pod/ns/a', 'net1', 5, 'pending', 10);
    index.upsert('pod/ns/a', 'net1', 5, 'pending', 20);
    expect(view.deadline).toBe(20);
    index.setState(view, 'committed', 0);
    expect(view.state).toBe('committed');
    expect(JSON.parse(JSON.stringify(view))).toEqual({
      mac: 5,
      owner: 'pod/ns/a',
      key: 'net1',
      state: 'committed',
      deadline: 0,
      since: 0,
    });
  });

  it('keeps 48-bit MACs, long and non-Latin-1 owner names, and epoch milliseconds exact', () => {
    const index = new OwnerIndex();
    const mac = 0xfeffffffffff;
    const long = `vm/ns/${'x'.repeat(5000)}`;
    const names = ['pod/ns/ünïcödé', 'pod/ns/名前', long, ''];
    for (const name of names)
      index.upsert(name, 'eth0', mac, 'pending', 1_800_000_000_123, 1_700_000_000_456);
    expect(index.holders(mac).map((e) => e.owner)).toEqual(names);
    for (const name of names) {
      expect(index.entriesOf(name)).toMatchObject([
        { mac, deadline: 1_800_000_000_123, since: 1_700_000_000_456 },
      ]);
    }
    expect([...index.owners()].sort()).toEqual([...names].sort());
    expect(index.sharedMacCount).toBe(1);
  });

  it('keeps an empty owner name, also as the first owner and at the end of a full arena page', () => {
    const first = new OwnerIndex();
    first.upsert('', 'k', 1, 'committed', 0);
    expect([...first.owners()]).toEqual(['']);
    expect(first.holders(1).map((e) => e.owner)).toEqual(['']);
    // 65,536 bytes of names fill the first arena page exactly; the empty name comes right after.
    const full = new OwnerIndex();
    for (let i = 0; i < 16; i++)
      full.upsert(`${String(i).padStart(4, '0')}${'x'.repeat(4092)}`, 'k', i, 'committed', 0);
    full.upsert('', 'k', 99, 'committed', 0);
    expect(full.holders(99).map((e) => e.owner)).toEqual(['']);
    expect(full.entriesOf('')).toHaveLength(1);
  });

  it('tells apart owners whose names have the same hash', () => {
    // Two pairs of names of one length with equal 32-bit name hashes (found by search), so look-ups must compare
    // the names themselves.
    const pairs = [
      ['pod/ns/c-0671139', 'pod/ns/c-1520906'],
      ['pod/ns/c-0671138', 'pod/ns/c-1520907'],
    ];
    for (const [a, b] of pairs) {
      const index = new OwnerIndex();
      index.upsert(a, 'k', 1, 'committed', 0);
      expect(index.entriesOf(b)).toEqual([]);
      index.upsert(b, 'k', 2, 'committed', 0);
      expect(index.ownerCount).toBe(2);
      expect(index.entriesOf(a).map((e) => e.mac)).toEqual([1]);
      expect(index.entriesOf(b).map((e) => e.mac)).toEqual([2]);
      index.remove(index.entriesOf(a)[0]);
      expect(index.entriesOf(a)).toEqual([]);
      expect(index.entriesOf(b).map((e) => e.mac)).toEqual([2]);
      expect([...index.owners()]).toEqual([b]);
    }
  });

  it('keeps pending entries in the order they became pending', () => {
    const index = new OwnerIndex();
    const a = index.upsert('o/a', 'k', 1, 'pending', 1);
    index.upsert('o/b', 'k', 2, 'pending', 1);
    index.upsert('o/c', 'k', 3, 'pending', 1);
    index.upsert('o/a', 'k', 1, 'pending', 2);
    index.remove(index.entriesOf('o/b')[0]);
    expect([...index.pending()].map((e) => e.owner)).toEqual(['o/c', 'o/a']);
    index.setState(a, 'committed', 0);
    expect([...index.pending()].map((e) => e.owner)).toEqual(['o/c']);
  });
});

interface ModelEntry {
  owner: string;
  key: string;
  mac: number;
  state: 'pending' | 'committed';
  deadline: number;
  since: number;
}

/** The owner index's contract as a plain list, to check the real one against. */
class ModelIndex {
  entries: ModelEntry[] = [];
  pendingOrder: ModelEntry[] = [];

  upsert(
    owner: string,
    key: string,
    mac: number,
    state: ModelEntry['state'],
    deadline: number,
    since: number,
  ): void {
    const existing = this.entries.find((e) => e.owner === owner && e.key === key && e.mac === mac);
    if (existing !== undefined) {
      this.setState(existing, state, deadline);
      return;
    }
    const entry = { owner, key, mac, state, deadline, since };
    this.entries.push(entry);
    if (state === 'pending') this.pendingOrder.push(entry);
  }

  setState(entry: ModelEntry, state: ModelEntry['state'], deadline: number): void {
    this.pendingOrder = this.pendingOrder.filter((e) => e !== entry);
    entry.state = state;
    entry.deadline = deadline;
    if (state === 'pending') this.pendingOrder.push(entry);
  }

  remove(entry: ModelEntry): boolean {
    this.entries = this.entries.filter((e) => e !== entry);
    this.pendingOrder = this.pendingOrder.filter((e) => e !== entry);
    return !this.entries.some((e) => e.mac === entry.mac);
  }

  shared(): number {
    const owners = new Map<number, Set<string>>();
    for (const e of this.entries) owners.set(e.mac, (owners.get(e.mac) ?? new Set()).add(e.owner));
    return [...owners.values()].filter((s) => s.size > 1).length;
  }

  vmDuplicates(): number {
    const counts = new Map<number, number>();
    for (const e of this.entries)
      if (e.owner.startsWith('vm/')) counts.set(e.mac, (counts.get(e.mac) ?? 0) + 1);
    return [...counts.values()].filter((n) => n > 1).length;
  }
}

const fields = (e: {
  owner: string;
  key: string;
  mac: number;
  state: string;
  deadline: number;
  since: number;
}) => ({
  owner: e.owner,
  key: e.key,
  mac: e.mac,
  state: e.state,
  deadline: e.deadline,
  since: e.since,
});

/**
 * Random upserts, state changes and removals against the model. `addShare(step)` is the share of upserts (the rest
 * splits as before), so a run can fill MAC chunks past the directory's dense threshold and empty them again.
 */
function differential(
  seed: number,
  macsOf: (random: () => number) => number[],
  addShare: (step: number) => number,
): { maxDenseChunks: number; endDenseChunks: number } {
  {
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    // Few owners, keys and MACs so that collisions, sharing and reuse happen often; owners with long names so that
    // the arena spans pages and churn compacts it.
    const owners = [
      ...Array.from({ length: 40 }, (_, i) => `pod/ns/p-${i}`),
      ...Array.from({ length: 400 }, (_, i) => `vm/ns-${i % 7}/${'long-'.repeat(40 + (i % 13))}${i}`),
      'pod/ns/名前',
      'vm/ns/名前',
    ];
    const keys = ['eth0', 'eth1', 'net#0', 'default'];
    const macs = macsOf(random);
    let maxDenseChunks = 0;
    const index = new OwnerIndex();
    const model = new ModelIndex();
    const snapshot = (): unknown => {
      const liveOwners = new Set(model.entries.map((e) => e.owner));
      const byMac = new Map<number, ModelEntry[]>();
      for (const e of model.entries) byMac.set(e.mac, [...(byMac.get(e.mac) ?? []), e]);
      return {
        expected: {
          holders: macs.map((mac) => (byMac.get(mac) ?? []).map(fields)),
          held: macs.map((mac) => byMac.has(mac)),
          entriesOf: owners.map((owner) => model.entries.filter((e) => e.owner === owner).map(fields)),
          owners: [...liveOwners].sort(),
          macs: [...byMac.keys()].sort(),
          pending: model.pendingOrder.map(fields),
          counts: [
            byMac.size,
            liveOwners.size,
            model.pendingOrder.length,
            model.entries.length,
            model.shared(),
            model.vmDuplicates(),
          ],
        },
        actual: {
          holders: macs.map((mac) => index.holders(mac).map(fields)),
          held: macs.map((mac) => index.isHeld(mac)),
          entriesOf: owners.map((owner) => index.entriesOf(owner).map(fields)),
          owners: [...index.owners()].sort(),
          macs: [...index.macs()].sort(),
          pending: [...index.pending()].map(fields),
          counts: [
            index.macCount,
            index.ownerCount,
            index.pendingCount,
            index.pendingCount + index.committedCount,
            index.sharedMacCount,
            index.trackedDuplicateMacCount,
          ],
        },
      };
    };
    for (let step = 0; step < 3000; step++) {
      const op = random();
      const add = addShare(step);
      if (op < add || model.entries.length === 0) {
        const state = random() < 0.5 ? 'pending' : 'committed';
        const deadline = Math.floor(random() * 1e12);
        const since = Math.floor(random() * 1e12);
        const [owner, key, mac] = [pick(owners), pick(keys), pick(macs)];
        const view = index.upsert(owner, key, mac, state, deadline, since);
        model.upsert(owner, key, mac, state, deadline, since);
        expect(index.isCurrent(view)).toBe(true);
      } else if (op < add + (1 - add) * (0.15 / 0.55)) {
        const entry = pick(model.entries);
        const view = index.entriesOf(entry.owner).find((e) => e.key === entry.key && e.mac === entry.mac)!;
        const state = random() < 0.5 ? 'pending' : 'committed';
        index.setState(view, state, step);
        model.setState(entry, state, step);
      } else if (op < add + (1 - add) * (0.45 / 0.55)) {
        const entry = pick(model.entries);
        const view = index.holders(entry.mac).find((e) => e.owner === entry.owner && e.key === entry.key)!;
        expect(index.remove(view)).toBe(model.remove(entry));
        expect(index.remove(view)).toBe(false);
      } else {
        // Release a whole owner, as MacPool.release does.
        const owner = pick(model.entries).owner;
        for (const view of index.entriesOf(owner)) index.remove(view);
        for (const entry of model.entries.filter((e) => e.owner === owner)) model.remove(entry);
      }

      maxDenseChunks = Math.max(maxDenseChunks, index.denseMacChunkCount);
      if (step % 100 === 0 || step === 2999) {
        // One comparison per check: jest's matchers are slow on thousands of small arrays.
        const { expected, actual } = snapshot() as { expected: unknown; actual: unknown };
        if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual).toEqual(expected);
      }
    }
    return { maxDenseChunks, endDenseChunks: index.denseMacChunkCount };
  }
}

describe('OwnerIndex against a list model (randomized)', () => {
  it.each([1, 2, 3])('agrees with the model throughout (seed %i)', (seed) => {
    differential(
      seed,
      () => [...Array.from({ length: 300 }, (_, i) => 0x020000000000 + i * 17), 0, 2 ** 48 - 1],
      () => 0.45,
    );
  });

  it.each([4, 5, 6])(
    'agrees with the model while runs of MACs fill and empty dense chunks, among scattered ones (seed %i)',
    (seed) => {
      const { maxDenseChunks, endDenseChunks } = differential(
        seed,
        (random) => [
          // A run across a chunk boundary (1024 MACs per chunk), MACs scattered over the 48-bit space, both ends.
          ...Array.from({ length: 160 }, (_, i) => 0x020000000000 + 1024 * 5 - 80 + i),
          ...Array.from({ length: 40 }, () => Math.floor(random() * 2 ** 48)),
          0,
          2 ** 48 - 1,
        ],
        // Mostly adds, then mostly removals: the run's chunks are promoted, then demoted.
        (step) => (step < 1500 ? 0.9 : 0.1),
      );
      expect(maxDenseChunks).toBeGreaterThan(0);
      expect(endDenseChunks).toBe(0);
    },
  );
});
