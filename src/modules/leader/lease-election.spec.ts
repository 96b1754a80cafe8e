import {
  type LeaseRecord,
  type Observation,
  claim,
  mayAllocate,
  microTime,
  nextAction,
  observe,
  released,
} from './lease-election';

const record = (holder: string, renewTime = '2026-12-02T10:00:00.000000Z', transitions = 0): LeaseRecord => ({
  holder,
  durationSeconds: 15,
  acquireTime: '2026-12-02T09:00:00.000000Z',
  renewTime,
  transitions,
});
const seen = (holder: string, observedAt: number): Observation => ({
  record: record(holder),
  resourceVersion: '7',
  observedAt,
});

describe('nextAction', () => {
  it('creates a Lease that does not exist', () => {
    expect(nextAction('a', undefined, 0)).toBe('create');
  });

  it('renews its own Lease, whatever its age', () => {
    expect(nextAction('a', seen('a', 0), 1_000_000)).toBe('renew');
  });

  it('takes over a released Lease at once', () => {
    expect(nextAction('a', seen('', 1000), 1000)).toBe('acquire');
  });

  it('waits for another holder until the lease went unchanged for its duration by its own clock', () => {
    expect(nextAction('a', seen('b', 1000), 1000)).toBe('wait');
    expect(nextAction('a', seen('b', 1000), 15_999)).toBe('wait');
    expect(nextAction('a', seen('b', 1000), 16_000)).toBe('acquire');
  });
});

describe('observe', () => {
  it('keeps the expiry clock running while the record stays the same, whatever its resourceVersion', () => {
    const first = observe(undefined, record('b'), '7', 1000);
    expect(first.observedAt).toBe(1000);
    expect(observe(first, record('b'), '8', 9000).observedAt).toBe(1000);
  });

  it('restarts it when the holder renews, changes or the transitions move', () => {
    const first = observe(undefined, record('b'), '7', 1000);
    expect(observe(first, record('b', '2026-12-02T10:00:02.000000Z'), '8', 3000).observedAt).toBe(3000);
    expect(observe(first, record('c'), '8', 3000).observedAt).toBe(3000);
    expect(observe(first, record('b', undefined, 1), '8', 3000).observedAt).toBe(3000);
  });
});

describe('claim and released', () => {
  const now = new Date('2026-12-02T10:00:05.123Z');

  it('creates with no transitions and the time as acquire and renew time', () => {
    expect(claim('a', 'create', undefined, 15, now, 'https://10.0.0.1:8000')).toEqual({
      holder: 'a',
      durationSeconds: 15,
      acquireTime: '2026-12-02T10:00:05.123000Z',
      renewTime: '2026-12-02T10:00:05.123000Z',
      transitions: 0,
      url: 'https://10.0.0.1:8000',
    });
  });

  it('renews keeping acquire time and transitions', () => {
    expect(claim('a', 'renew', seen('a', 0), 15, now, undefined)).toMatchObject({
      acquireTime: '2026-12-02T09:00:00.000000Z',
      renewTime: '2026-12-02T10:00:05.123000Z',
      transitions: 0,
    });
  });

  it('counts a take-over as a transition, with a new acquire time', () => {
    expect(claim('a', 'acquire', seen('b', 0), 15, now, undefined)).toMatchObject({
      holder: 'a',
      acquireTime: '2026-12-02T10:00:05.123000Z',
      transitions: 1,
    });
  });

  it('releases with no holder, a one-second duration and no URL', () => {
    expect(released({ ...record('a'), url: 'https://x' }, now)).toEqual({
      ...record('a'),
      holder: '',
      durationSeconds: 1,
      renewTime: '2026-12-02T10:00:05.123000Z',
      url: undefined,
    });
  });
});

describe('mayAllocate (the self-fence)', () => {
  it('holds only for a leader, only until the renew deadline after the start of its last successful write', () => {
    expect(mayAllocate(true, 1000, 10_000, 10_999)).toBe(true);
    expect(mayAllocate(true, 1000, 10_000, 11_000)).toBe(false);
    expect(mayAllocate(false, 1000, 10_000, 1000)).toBe(false);
    expect(mayAllocate(true, undefined, 10_000, 0)).toBe(false);
  });

  it('stops before any other replica can acquire: renew deadline < lease duration, both from the same write', () => {
    // The write started at 1000 and was seen by another replica no earlier than that; it acquires at 1000 + 15 s at
    // the soonest, when this leader has already stopped for 5 s.
    const write = 1000;
    const otherAcquiresAt = write + 15_000;
    expect(mayAllocate(true, write, 10_000, otherAcquiresAt - 1)).toBe(false);
    expect(nextAction('b', seen('a', write), otherAcquiresAt - 1)).toBe('wait');
  });
});

describe('microTime', () => {
  it('writes six fractional digits, as the API server reads a MicroTime', () => {
    expect(microTime(new Date('2026-12-02T10:00:05.1Z'))).toBe('2026-12-02T10:00:05.100000Z');
  });
});
