import { admissionReview, virtualMachine } from '../../../test/fixtures/objects';
import { type AdmissionRequest, decodeRequest } from '../mutation/admission-review';
import { MutationException } from '../mutation/mutation.exception';
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
    expect(error.code).toBe(413);
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
    expect(error.code).toBe(500);
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
      expect(error.code).toBe(409);
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
