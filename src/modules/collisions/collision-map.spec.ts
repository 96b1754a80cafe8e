import { type CollisionChange, CollisionMap, type CollisionSubject, sharesMigration } from './collision-map';

const A = 0x020000000001;
const B = 0x020000000002;
const C = 0x020000000003;

const subject = (macs: number[], migration: Partial<CollisionSubject> = {}): CollisionSubject => ({
  macs,
  ...migration,
});

/** Changes as `mac → refs`, order-independent. */
const asRecord = (changes: CollisionChange[]) =>
  Object.fromEntries(changes.map((c) => [c.mac.toString(16), [...c.refs]]));

describe('CollisionMap', () => {
  it('reports nothing for distinct MACs, and a collision once a second object holds one', () => {
    const map = new CollisionMap();
    expect(map.set('pod/a/p1', subject([A]))).toEqual([]);
    expect(map.set('pod/a/p2', subject([B]))).toEqual([]);
    expect(map.set('vmi/b/v1', subject([A, C]))).toEqual([{ mac: A, refs: ['pod/a/p1', 'vmi/b/v1'] }]);
    expect(map.get(A)).toEqual(['pod/a/p1', 'vmi/b/v1']);
    expect(map.get(C)).toBeUndefined();
    expect(map.size).toBe(1);
    expect(map.objects).toBe(3);
  });

  it('sorts the refs ascending, whatever the order the objects came in', () => {
    const map = new CollisionMap();
    map.set('vmi/z/v', subject([A]));
    map.set('pod/m/p', subject([A]));
    expect(map.set('pod/a/p', subject([A]))).toEqual([{ mac: A, refs: ['pod/a/p', 'pod/m/p', 'vmi/z/v'] }]);
  });

  it('reports a changed collision when a third object joins, and its end when only one holder is left', () => {
    const map = new CollisionMap();
    map.set('pod/n/1', subject([A]));
    map.set('pod/n/2', subject([A]));
    expect(map.set('pod/n/3', subject([A]))).toEqual([{ mac: A, refs: ['pod/n/1', 'pod/n/2', 'pod/n/3'] }]);
    expect(map.remove('pod/n/2')).toEqual([{ mac: A, refs: ['pod/n/1', 'pod/n/3'] }]);
    expect(map.remove('pod/n/1')).toEqual([{ mac: A, refs: [] }]);
    expect(map.get(A)).toBeUndefined();
    expect(map.size).toBe(0);
    expect(map.remove('pod/n/3')).toEqual([]);
    expect(map.remove('pod/n/never')).toEqual([]);
  });

  it('moves a collision when an object changes its MAC', () => {
    const map = new CollisionMap();
    map.set('vmi/n/1', subject([A]));
    map.set('vmi/n/2', subject([A]));
    map.set('vmi/n/3', subject([B]));
    expect(asRecord(map.set('vmi/n/2', subject([B])))).toEqual({
      [A.toString(16)]: [],
      [B.toString(16)]: ['vmi/n/2', 'vmi/n/3'],
    });
  });

  it('reports nothing when an object is applied again unchanged (a relist), even as a new object', () => {
    const map = new CollisionMap();
    map.set('pod/n/1', subject([A, B]));
    map.set('pod/n/2', subject([A]));
    expect(map.set('pod/n/1', subject([A, B]))).toEqual([]);
    expect(map.set('pod/n/2', subject([A]))).toEqual([]);
    map.update('pod/n/1', undefined);
    map.update('pod/n/1', subject([B, A]));
    expect(map.changes()).toEqual([]);
  });

  it('settles batched updates once: a collision that came and went within the batch is not reported', () => {
    const map = new CollisionMap();
    map.update('pod/n/1', subject([A]));
    map.update('pod/n/2', subject([A]));
    map.update('pod/n/3', subject([B]));
    map.update('pod/n/4', subject([B]));
    map.update('pod/n/4', undefined);
    expect(map.changes()).toEqual([{ mac: A, refs: ['pod/n/1', 'pod/n/2'] }]);
    expect(map.changes()).toEqual([]);
  });

  it('counts a MAC listed twice by one object once', () => {
    const map = new CollisionMap();
    expect(map.set('vmi/n/1', subject([A, A]))).toEqual([]);
    expect(map.set('vmi/n/2', subject([A]))).toEqual([{ mac: A, refs: ['vmi/n/1', 'vmi/n/2'] }]);
    expect(map.remove('vmi/n/1')).toEqual([{ mac: A, refs: [] }]);
  });

  describe('live migrations', () => {
    it('does not count the two VMIs of one migration (same source or same target UID)', () => {
      const map = new CollisionMap();
      map.set('vmi/src/vm', subject([A], { sourceMigration: 'm1' }));
      expect(map.set('vmi/dst/vm', subject([A], { sourceMigration: 'm1', targetMigration: 't1' }))).toEqual(
        [],
      );
      map.set('vmi/src/vm2', subject([B], { targetMigration: 't2' }));
      expect(map.set('vmi/dst/vm2', subject([B], { targetMigration: 't2' }))).toEqual([]);
      expect(map.size).toBe(0);
    });

    it('counts VMIs of different migrations, or one migrating and one not', () => {
      const map = new CollisionMap();
      map.set('vmi/n/1', subject([A], { sourceMigration: 'm1' }));
      expect(map.set('vmi/n/2', subject([A], { sourceMigration: 'm2' }))).toEqual([
        { mac: A, refs: ['vmi/n/1', 'vmi/n/2'] },
      ]);
      map.set('vmi/n/3', subject([B], { targetMigration: 't1' }));
      expect(map.set('vmi/n/4', subject([B]))).toEqual([{ mac: B, refs: ['vmi/n/3', 'vmi/n/4'] }]);
    });

    it('lists both VMIs of a migration when a third object shares their MAC', () => {
      const map = new CollisionMap();
      map.set('vmi/src/vm', subject([A], { sourceMigration: 'm1' }));
      map.set('vmi/dst/vm', subject([A], { sourceMigration: 'm1' }));
      expect(map.set('pod/x/p', subject([A]))).toEqual([
        { mac: A, refs: ['pod/x/p', 'vmi/dst/vm', 'vmi/src/vm'] },
      ]);
      expect(map.remove('pod/x/p')).toEqual([{ mac: A, refs: [] }]);
    });

    it('reports the collision when the migration ends (the UIDs go) and the two VMIs still run', () => {
      const map = new CollisionMap();
      map.set('vmi/src/vm', subject([A], { sourceMigration: 'm1' }));
      map.set('vmi/dst/vm', subject([A], { sourceMigration: 'm1' }));
      expect(map.set('vmi/dst/vm', subject([A]))).toEqual([{ mac: A, refs: ['vmi/dst/vm', 'vmi/src/vm'] }]);
      expect(map.set('vmi/dst/vm', subject([A], { sourceMigration: 'm1' }))).toEqual([{ mac: A, refs: [] }]);
    });

    it('treats empty UIDs as none (the reducer drops them) and compares source with source only', () => {
      expect(sharesMigration(subject([A]), subject([A]))).toBe(false);
      expect(
        sharesMigration(subject([A], { sourceMigration: 'm' }), subject([A], { targetMigration: 'm' })),
      ).toBe(false);
      expect(
        sharesMigration(subject([A], { targetMigration: 'm' }), subject([A], { targetMigration: 'm' })),
      ).toBe(true);
    });
  });

  it('keeps a single-holder MAC cheap and the index consistent over many updates', () => {
    const map = new CollisionMap();
    for (let i = 0; i < 10_000; i++) map.update(`pod/n/${i}`, subject([A + i]));
    expect(map.changes()).toEqual([]);
    for (let i = 0; i < 10_000; i += 2) map.update(`pod/n/${i}`, subject([A + i + 1]));
    expect(map.changes()).toHaveLength(5_000);
    expect(map.size).toBe(5_000);
    for (let i = 0; i < 10_000; i += 2) map.update(`pod/n/${i}`, undefined);
    expect(map.changes()).toHaveLength(5_000);
    expect(map.size).toBe(0);
    expect(map.objects).toBe(5_000);
  });
});
