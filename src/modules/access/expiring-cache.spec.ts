import { ExpiringCache } from './expiring-cache';

describe('ExpiringCache', () => {
  it('forgets an entry once its time to live passed', () => {
    let now = 0;
    const cache = new ExpiringCache<string>(10, () => now);
    cache.set('a', 'allowed', 300);
    cache.set('b', 'denied', 30);
    now = 29;
    expect([cache.get('a'), cache.get('b')]).toEqual(['allowed', 'denied']);
    now = 30;
    expect([cache.get('a'), cache.get('b')]).toEqual(['allowed', undefined]);
    now = 300;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('holds at most its capacity, dropping the least recently used', () => {
    const cache = new ExpiringCache<number>(2, () => 0);
    cache.set('a', 1, 1000);
    cache.set('b', 2, 1000);
    expect(cache.get('a')).toBe(1); // b is now the least recently used
    cache.set('c', 3, 1000);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([1, undefined, 3]);
    expect(cache.size).toBe(2);
    cache.set('c', 4, 1000); // replacing does not evict
    expect([cache.get('a'), cache.get('c')]).toEqual([1, 4]);
  });
});
