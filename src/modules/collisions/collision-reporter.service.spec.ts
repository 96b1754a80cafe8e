import { type CoreV1Event } from '@kubernetes/client-node';
import { Gauge, Registry } from 'prom-client';
import { type EventRepository } from '../kube/event.repository';
import { CollisionReporter, type EventTarget } from './collision-reporter.service';
import { MAC_COLLISIONS_HELP, MAC_COLLISIONS_METRIC } from './collisions.constants';

const A = 0x020000000001;

function setup(fail = false) {
  const registry = new Registry();
  const gauge = new Gauge({
    name: MAC_COLLISIONS_METRIC,
    help: MAC_COLLISIONS_HELP,
    labelNames: ['mac'],
    registers: [registry],
  });
  const created: { namespace: string; body: CoreV1Event }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const events = {
    create: async (namespace: string, body: CoreV1Event) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      if (fail) throw new Error('HTTP 403');
      created.push({ namespace, body });
    },
  } as unknown as EventRepository;
  const reporter = new CollisionReporter(events, gauge);
  const target = (ref: string): EventTarget | undefined => {
    const [kind, namespace, name] = ref.split('/');
    if (name === 'gone') return undefined;
    return kind === 'pod'
      ? { kind: 'Pod', apiVersion: 'v1', namespace, name, uid: `uid-${name}` }
      : { kind: 'VirtualMachineInstance', apiVersion: 'kubevirt.io/v1', namespace, name, uid: `uid-${name}` };
  };
  return { registry, reporter, created, target, maxInFlight: () => maxInFlight };
}

describe('CollisionReporter', () => {
  it('records one Warning Event per colliding object with upstream’s reason, message and component', async () => {
    const { reporter, created, target } = setup();
    reporter.report([{ mac: A, refs: ['pod/a/p', 'vmi/b/v'] }], target);
    await reporter.idle();
    const message = 'MAC 02:00:00:00:00:01: Collision between pod/a/p, vmi/b/v';
    expect(created.map((e) => e.namespace).sort()).toEqual(['a', 'b']);
    for (const { body } of created) {
      expect(body).toMatchObject({
        type: 'Warning',
        reason: 'MACCollision',
        message,
        source: { component: 'kubemacpool' },
        reportingComponent: 'kubemacpool',
      });
    }
    expect(created.map((e) => e.body.involvedObject).sort((x, y) => x.name!.localeCompare(y.name!))).toEqual([
      { kind: 'Pod', apiVersion: 'v1', namespace: 'a', name: 'p', uid: 'uid-p' },
      {
        kind: 'VirtualMachineInstance',
        apiVersion: 'kubevirt.io/v1',
        namespace: 'b',
        name: 'v',
        uid: 'uid-v',
      },
    ]);
  });

  it('keeps a series only while the MAC collides, valued by the number of objects', async () => {
    const { registry, reporter, target } = setup();
    reporter.report([{ mac: A, refs: ['pod/a/1', 'pod/a/2', 'pod/a/3'] }], target);
    expect(await registry.metrics()).toContain('kmp_mac_collisions{mac="02:00:00:00:00:01"} 3');
    reporter.report([{ mac: A, refs: ['pod/a/1', 'pod/a/3'] }], target);
    expect(await registry.metrics()).toContain('kmp_mac_collisions{mac="02:00:00:00:00:01"} 2');
    reporter.report([{ mac: A, refs: [] }], target);
    expect(await registry.metrics()).not.toContain('kmp_mac_collisions{');
    await reporter.idle();
  });

  it('records nothing on objects that are gone', async () => {
    const { reporter, created, target } = setup();
    reporter.report([{ mac: A, refs: ['pod/a/gone', 'pod/a/p'] }], target);
    await reporter.idle();
    expect(created.map((e) => e.body.involvedObject.name)).toEqual(['p']);
  });

  it('survives Events the API refuses and keeps the series', async () => {
    const { registry, reporter, created, target } = setup(true);
    reporter.report([{ mac: A, refs: ['pod/a/p', 'pod/a/q'] }], target);
    await reporter.idle();
    expect(created).toEqual([]);
    expect(await registry.metrics()).toContain('kmp_mac_collisions{mac="02:00:00:00:00:01"} 2');
  });

  it('creates a burst of Events a few at a time', async () => {
    const { reporter, created, target, maxInFlight } = setup();
    const refs = Array.from({ length: 40 }, (_, i) => `pod/a/p${String(i).padStart(2, '0')}`);
    reporter.report([{ mac: A, refs }], target);
    await reporter.idle();
    expect(created).toHaveLength(40);
    expect(maxInFlight()).toBeLessThanOrEqual(4);
  });

  it('frees the slot of an Event request that never answers, so later Events are still recorded', async () => {
    jest.useFakeTimers();
    try {
      const registry = new Registry();
      const gauge = new Gauge({
        name: MAC_COLLISIONS_METRIC,
        help: 'h',
        labelNames: ['mac'],
        registers: [registry],
      });
      const recorded: string[] = [];
      let calls = 0;
      const events = {
        // The first four requests hang forever (half-open connections); later ones answer.
        create: (namespace: string, body: CoreV1Event) =>
          ++calls <= 4
            ? new Promise<void>(() => undefined)
            : Promise.resolve(void recorded.push(body.involvedObject.name!)),
      } as unknown as EventRepository;
      const reporter = new CollisionReporter(events, gauge);
      const target = (ref: string): EventTarget => {
        const [, namespace, name] = ref.split('/');
        return { kind: 'Pod', apiVersion: 'v1', namespace, name };
      };
      reporter.report([{ mac: A, refs: ['pod/a/1', 'pod/a/2', 'pod/a/3', 'pod/a/4'] }], target);
      reporter.report([{ mac: A + 1, refs: ['pod/b/5', 'pod/b/6'] }], target);
      await jest.advanceTimersByTimeAsync(29_000);
      expect(recorded).toEqual([]);
      await jest.advanceTimersByTimeAsync(2_000);
      await reporter.idle();
      expect(recorded.sort()).toEqual(['5', '6']);
    } finally {
      jest.useRealTimers();
    }
  });
});
