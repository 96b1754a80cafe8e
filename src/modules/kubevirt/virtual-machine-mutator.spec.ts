import { admissionReview, virtualMachine } from '../../../test/fixtures/objects';
import { type AdmissionRequest, decodeRequest } from '../mutation/admission-review';
import { MutationException, MutationExceptionCode } from '../mutation/mutation.exception';
import { MacAddress } from '../pool/mac-address';
import { MacPool } from '../pool/mac-pool';
import { MacRange } from '../pool/mac-range';
import { VirtualMachineMutator } from './virtual-machine-mutator';

const NOW = new Date('2026-11-29T12:00:00.000Z');
const context = (overrides: Partial<{ dryRun: boolean; policy: 'Warn' | 'Reject' }> = {}) => ({
  now: NOW,
  dryRun: false,
  policy: 'Warn' as const,
  deadline: NOW.getTime() + 600_000,
  ...overrides,
});

function request(review: ReturnType<typeof admissionReview>): AdmissionRequest {
  return decodeRequest(review.request.uid, review.request);
}

function denial(action: () => unknown): MutationException {
  try {
    action();
  } catch (error) {
    if (error instanceof MutationException) return error;
    throw error;
  }
  throw new Error('not denied');
}

describe('VirtualMachineMutator', () => {
  let pool: MacPool;
  let mutator: VirtualMachineMutator;
  beforeEach(() => {
    pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:ff'), () => 0);
    mutator = new VirtualMachineMutator(pool);
  });

  const create = (vm: Record<string, unknown>, ctx = context()) =>
    mutator.mutate(request(admissionReview({ kind: 'VirtualMachine', namespace: 'ns', object: vm })), ctx);

  it('gives the upstream simple VM (masquerade on the pod network) a MAC and stamps the timestamp', () => {
    const mutation = create(
      virtualMachine('simplevm', [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]),
    );
    expect(mutation.patch).toEqual([
      {
        op: 'add',
        path: '/metadata/annotations',
        value: { 'kubemacpool.io/transaction-timestamp': '2026-11-29T12:00:00.000Z' },
      },
      {
        op: 'add',
        path: '/spec/template/spec/domain/devices/interfaces/0/macAddress',
        value: '02:00:00:00:00:00',
      },
    ]);
    expect(pool.entriesOf('vm/ns/simplevm')).toMatchObject([
      { key: 'default', state: 'pending', deadline: NOW.getTime() + 600_000 },
    ]);
  });

  it('follows upstream’s rule for which interfaces get a MAC', () => {
    const mutation = create(
      virtualMachine(
        'vm',
        [
          { name: 'default', binding: 'masquerade' },
          { name: 'br1', binding: 'bridge' },
          { name: 'sriov1', binding: 'sriov' },
          { name: 'podbridge', binding: 'bridge' },
        ],
        [
          { name: 'default' },
          { name: 'br1', multus: 'br1-nad' },
          { name: 'sriov1', multus: 'sriov-nad' },
          { name: 'podbridge' },
        ],
      ),
    );
    const paths = mutation.patch.map((op) => op.path).filter((p) => p.endsWith('macAddress'));
    expect(paths).toEqual(
      [0, 1, 2].map((i) => `/spec/template/spec/domain/devices/interfaces/${i}/macAddress`),
    );
    expect(new Set(mutation.macs).size).toBe(3);
  });

  it('records requested MACs, in or out of the range, and keeps them in the patch-free path', () => {
    const mutation = create(
      virtualMachine(
        'vm',
        [{ name: 'default', binding: 'masquerade', macAddress: '0E-00-00-00-00-01' }],
        [{ name: 'default' }],
      ),
    );
    expect(mutation.patch.filter((op) => op.path.endsWith('macAddress'))).toEqual([]);
    expect(pool.holders(MacAddress.parse('0e:00:00:00:00:01')).map((e) => e.owner)).toEqual(['vm/ns/vm']);
  });

  it('denies malformed MACs, duplicate MACs and duplicate names with upstream’s messages', () => {
    const vm = (ifaces: Parameters<typeof virtualMachine>[1]) =>
      virtualMachine('vm', ifaces, [
        { name: 'br1', multus: 'n' },
        { name: 'br2', multus: 'n' },
      ]);
    expect(denial(() => create(vm([{ name: 'br1', macAddress: '02:00:00:00:ff' }]))).message).toBe(
      'Failed to create virtual machine allocation error: Failed to allocate mac to the vm object: invalid MAC address format for interface br1: 02:00:00:00:ff: address 02:00:00:00:ff: invalid MAC address',
    );
    expect(
      denial(() =>
        create(
          vm([
            { name: 'br1', macAddress: '02:00:00:00:FF:FF' },
            { name: 'br2', macAddress: '02:00:00:00:ff:ff' },
          ]),
        ),
      ).message,
    ).toBe(
      'Failed to create virtual machine allocation error: Failed to allocate mac to the vm object: duplicate MAC address 02:00:00:00:ff:ff found on interfaces: br1 and br2',
    );
    expect(denial(() => create(vm([{ name: 'br1' }, { name: 'br1' }]))).message).toBe(
      'Failed to create virtual machine allocation error: Failed to mutate virtual machine: every interface must have a unique name',
    );
    expect(pool.stats().used).toBe(0);
  });

  it('denies a multicast MAC on CREATE, naming the VM, the interface and the value', () => {
    const vm = virtualMachine(
      'vm',
      [{ name: 'default', binding: 'masquerade', macAddress: '03:00:00:00:00:01' }],
      [{ name: 'default' }],
    );
    for (const dryRun of [false, true]) {
      const error = denial(() => create(vm, context({ dryRun })));
      expect(error.code).toBe(MutationExceptionCode.MAC_MULTICAST);
      expect(error.message).toBe(
        'Failed to create virtual machine allocation error: vm/ns/vm: interface default: MAC address 03:00:00:00:00:01 is a multicast address (the lowest bit of the first octet is set); no network interface can use it',
      );
    }
    expect(pool.stats().used).toBe(0);
  });

  it('denies a 1,000-interface VM without allocating', () => {
    const ifaces = Array.from({ length: 1000 }, (_, i) => ({ name: `n${i}` }));
    const error = denial(() =>
      create(
        virtualMachine(
          'big',
          ifaces,
          ifaces.map((i) => ({ name: i.name, multus: 'x' })),
        ),
      ),
    );
    expect(error.code).toBe(MutationExceptionCode.TOO_LARGE);
    expect(error.message).toBe('vm/ns/big: too many interfaces: 1000 (at most 256)');
    expect(pool.stats().used).toBe(0);
  });

  it('computes the same answer in a dry run and changes nothing', () => {
    const vm = virtualMachine(
      'vm',
      [{ name: 'default', binding: 'masquerade' }, { name: 'br1' }],
      [{ name: 'default' }, { name: 'br1', multus: 'n' }],
    );
    const dry = create(vm, context({ dryRun: true }));
    expect(pool.stats()).toMatchObject({ used: 0, pending: 0 });
    const real = create(vm);
    expect(real.patch.slice(1)).toEqual(dry.patch.slice(1));
  });

  it('rolls back what it allocated when the pool runs out mid-request', () => {
    const small = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:01'), () => 0);
    const m = new VirtualMachineMutator(small);
    const ifaces = ['a', 'b', 'c'].map((name) => ({ name }));
    const error = denial(() =>
      m.mutate(
        request(
          admissionReview({
            kind: 'VirtualMachine',
            namespace: 'ns',
            object: virtualMachine(
              'vm',
              ifaces,
              ifaces.map((i) => ({ name: i.name, multus: 'n' })),
            ),
          }),
        ),
        context(),
      ),
    );
    expect(error.code).toBe(MutationExceptionCode.POOL_EXHAUSTED);
    expect(error.message).toBe(
      'the range is full: no MAC left in 02:00:00:00:00:00 - 02:00:00:00:00:01 for vm/ns/vm',
    );
    expect(small.stats().used).toBe(0);
  });

  describe('duplicates of other objects', () => {
    it('warns under Warn and records the MAC for both', () => {
      const taken = pool.allocate('pod/ns/p', 'net#0');
      const mutation = create(
        virtualMachine('vm', [{ name: 'br1', macAddress: taken.toString() }], [{ name: 'br1', multus: 'n' }]),
      );
      expect(mutation.warnings).toEqual([
        `MAC address ${taken} requested for interface br1 is already in use by pod/ns/p`,
      ]);
      expect(
        pool
          .holders(taken)
          .map((e) => e.owner)
          .sort(),
      ).toEqual(['pod/ns/p', 'vm/ns/vm']);
    });

    it('denies under Reject, naming the holder, and records nothing', () => {
      const taken = pool.allocate('pod/ns/p', 'net#0');
      const error = denial(() =>
        create(
          virtualMachine(
            'vm',
            [{ name: 'br1', macAddress: taken.toString() }, { name: 'br2' }],
            [
              { name: 'br1', multus: 'n' },
              { name: 'br2', multus: 'n' },
            ],
          ),
          context({ policy: 'Reject' }),
        ),
      );
      expect(error.code).toBe(MutationExceptionCode.MAC_IN_USE);
      expect(error.message).toBe(
        `MAC address ${taken} requested for interface br1 of vm/ns/vm is already in use by pod/ns/p`,
      );
      expect(pool.entriesOf('vm/ns/vm')).toEqual([]);
    });
  });

  describe('UPDATE', () => {
    const nets = ['default', 'br1', 'br2', 'br3', 'br4'];
    const original = () =>
      virtualMachine(
        'vm',
        nets.map((name, i) => ({ name, binding: i === 0 ? ('masquerade' as const) : ('bridge' as const) })),
        nets.map((name, i) => (i === 0 ? { name } : { name, multus: `${name}-nad` })),
      );
    const applied = (vm: Record<string, unknown>, patch: { path: string; value: unknown }[]) => {
      const copy = structuredClone(vm) as {
        spec: { template: { spec: { domain: { devices: { interfaces: Record<string, unknown>[] } } } } };
        metadata: Record<string, unknown>;
      };
      for (const op of patch) {
        const m = /interfaces\/(\d+)\/macAddress$/.exec(op.path);
        if (m) copy.spec.template.spec.domain.devices.interfaces[Number(m[1])].macAddress = op.value;
        else if (op.path === '/metadata/annotations') copy.metadata.annotations = op.value;
      }
      return copy as unknown as Record<string, unknown>;
    };
    const update = (oldObject: Record<string, unknown>, object: Record<string, unknown>, ctx = context()) =>
      mutator.mutate(
        request(
          admissionReview({
            kind: 'VirtualMachine',
            namespace: 'ns',
            object,
            oldObject,
            operation: 'UPDATE',
          }),
        ),
        ctx,
      );

    it('keeps all five MACs when the original YAML is applied again (upstream test 2243)', () => {
      const stored = applied(original(), create(original()).patch);
      const reapplied = original();
      (reapplied.metadata as Record<string, unknown>).labels = { touched: 'yes' };
      const mutation = update(stored, reapplied);
      const restored = mutation.patch.filter((op) => op.path.endsWith('macAddress'));
      const storedMacs = (
        stored as {
          spec: { template: { spec: { domain: { devices: { interfaces: { macAddress: string }[] } } } } };
        }
      ).spec.template.spec.domain.devices.interfaces.map((i) => i.macAddress);
      expect(restored.map((op) => op.value)).toEqual(storedMacs);
      expect(pool.stats().used).toBe(5);
    });

    it('does nothing when neither spec, labels nor annotations changed', () => {
      const stored = applied(original(), create(original()).patch);
      expect(update(stored, structuredClone(stored)).patch).toEqual([]);
    });

    it('gives a MAC to a new Multus interface and checks the binding rule on UPDATE too', () => {
      const stored = applied(original(), create(original()).patch);
      const next = structuredClone(stored) as ReturnType<typeof original> & {
        spec: { template: { spec: { domain: { devices: { interfaces: unknown[] } }; networks: unknown[] } } };
      };
      next.spec.template.spec.domain.devices.interfaces.push(
        { name: 'br5', bridge: {} },
        { name: 'podbr', bridge: {} },
      );
      next.spec.template.spec.networks.push(
        { name: 'br5', multus: { networkName: 'x' } },
        { name: 'podbr', pod: {} },
      );
      const mutation = update(stored, next);
      const macOps = mutation.patch.filter((op) => op.path.endsWith('macAddress'));
      expect(macOps.map((op) => op.path)).toEqual([
        '/spec/template/spec/domain/devices/interfaces/5/macAddress',
      ]);
      expect(pool.stats().used).toBe(6);
    });

    it('denies a duplicate between a restored MAC and a requested one', () => {
      const two = virtualMachine(
        'vm',
        [{ name: 'a' }, { name: 'b' }],
        [
          { name: 'a', multus: 'n' },
          { name: 'b', multus: 'n' },
        ],
      );
      const stored = applied(two, create(two).patch) as {
        spec: { template: { spec: { domain: { devices: { interfaces: { macAddress?: string }[] } } } } };
      };
      const [x] = stored.spec.template.spec.domain.devices.interfaces.map((i) => i.macAddress!);
      const next = structuredClone(stored);
      delete next.spec.template.spec.domain.devices.interfaces[0].macAddress; // a gets x back
      next.spec.template.spec.domain.devices.interfaces[1].macAddress = x; // b asks for x
      const before = pool.stats();
      for (const policy of ['Warn', 'Reject'] as const) {
        for (const dryRun of [false, true]) {
          const error = denial(() =>
            update(stored as unknown as Record<string, unknown>, next as unknown as Record<string, unknown>, {
              ...context({ policy, dryRun }),
            }),
          );
          expect(error.message).toBe(
            `Failed to update virtual machine allocation error: Failed to allocate mac to the vm object: duplicate MAC address ${x} found on interfaces: a and b`,
          );
        }
      }
      expect(pool.stats()).toEqual(before);
    });

    it('answers a dry run on a nearly full range as the real request does', () => {
      // 16 MACs: the VM keeps 3, 12 others are taken, 1 is free; the update adds one interface.
      const small = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:0f'), () => 0);
      const m = new VirtualMachineMutator(small);
      const names = ['a', 'b', 'c'];
      const vm = virtualMachine(
        'vm',
        names.map((name) => ({ name })),
        names.map((name) => ({ name, multus: 'n' })),
      );
      const run = (object: Record<string, unknown>, ctx: ReturnType<typeof context>, oldObject?: object) =>
        m.mutate(
          request(
            admissionReview({
              kind: 'VirtualMachine',
              namespace: 'ns',
              object,
              oldObject: oldObject as Record<string, unknown> | undefined,
              operation: oldObject === undefined ? 'CREATE' : 'UPDATE',
            }),
          ),
          ctx,
        );
      const stored = applied(vm, run(vm, context()).patch) as ReturnType<typeof original> & {
        spec: { template: { spec: { domain: { devices: { interfaces: unknown[] } }; networks: unknown[] } } };
      };
      for (let i = 0; i < 12; i++) small.allocate(`pod/ns/p${i}`, 'net#0');
      expect(small.stats().free).toBe(1);
      const next = structuredClone(stored);
      next.spec.template.spec.domain.devices.interfaces.push({ name: 'd', bridge: {} });
      next.spec.template.spec.networks.push({ name: 'd', multus: { networkName: 'n' } });
      const dry = run(next, context({ dryRun: true }), stored);
      expect(small.stats().free).toBe(1);
      const real = run(next, context(), stored);
      expect(dry.patch.slice(1)).toEqual(real.patch.slice(1));
      expect(real.patch.map((op) => op.value)).toContain('02:00:00:00:00:0f');
      expect(small.stats().free).toBe(0);
    });

    it('denies a newly requested multicast MAC but lets a VM keep one it already has', () => {
      const stored = applied(original(), create(original()).patch) as {
        spec: { template: { spec: { domain: { devices: { interfaces: { macAddress?: string }[] } } } } };
        metadata: Record<string, unknown>;
      };
      const next = structuredClone(stored);
      next.spec.template.spec.domain.devices.interfaces[1].macAddress = '03:00:00:00:00:01';
      const before = pool.stats();
      for (const dryRun of [false, true]) {
        const error = denial(() =>
          update(
            stored as unknown as Record<string, unknown>,
            next as unknown as Record<string, unknown>,
            context({ dryRun }),
          ),
        );
        expect(error.code).toBe(MutationExceptionCode.MAC_MULTICAST);
        expect(error.message).toBe(
          'Failed to update virtual machine allocation error: vm/ns/vm: interface br1: MAC address 03:00:00:00:00:01 is a multicast address (the lowest bit of the first octet is set); no network interface can use it',
        );
      }
      expect(pool.stats()).toEqual(before);
      // A VM persisted with one before this check existed: a label change still goes through, the MAC stays.
      const legacy = structuredClone(next);
      const relabelled = structuredClone(next);
      relabelled.metadata.labels = { touched: 'yes' };
      const mutation = update(
        legacy as unknown as Record<string, unknown>,
        relabelled as unknown as Record<string, unknown>,
      );
      expect(mutation.macs).toContain('03:00:00:00:00:01');
    });

    it('records a changed MAC without a duplicate warning for MACs it already had', () => {
      const stored = applied(original(), create(original()).patch);
      const next = structuredClone(stored) as {
        spec: { template: { spec: { domain: { devices: { interfaces: { macAddress?: string }[] } } } } };
      };
      next.spec.template.spec.domain.devices.interfaces[1].macAddress = '0e:00:00:00:00:09';
      const mutation = update(stored, next as unknown as Record<string, unknown>);
      expect(mutation.warnings).toEqual([]);
      expect(pool.holders(MacAddress.parse('0e:00:00:00:00:09')).map((e) => e.owner)).toEqual(['vm/ns/vm']);
    });
  });

  it('leaves VMs being deleted, without a template, or on DELETE alone', () => {
    const vm = virtualMachine('vm', [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]);
    (vm.metadata as Record<string, unknown>).deletionTimestamp = '2026-11-29T11:00:00Z';
    expect(create(vm).patch).toEqual([]);
    expect(
      create({ apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'x' }, spec: {} })
        .patch,
    ).toEqual([]);
  });

  it('keys a generateName VM by its admission uid until it has a name', () => {
    const review = admissionReview({
      kind: 'VirtualMachine',
      namespace: 'ns',
      object: virtualMachine('', [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]),
      uid: 'u-1',
    });
    mutator.mutate(request(review), context());
    expect(pool.entriesOf('vm/ns/~u-1')).toHaveLength(1);
  });
});
