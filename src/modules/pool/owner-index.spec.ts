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
    expect(again).toBe(first);
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
