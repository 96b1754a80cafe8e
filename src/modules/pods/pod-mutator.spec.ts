import { admissionReview, podWithNetworks } from '../../../test/fixtures/objects';
import { decodeRequest } from '../mutation/admission-review';
import { MutationException, MutationExceptionCode } from '../mutation/mutation.exception';
import { MacAddress } from '../pool/mac-address';
import { MacPool } from '../pool/mac-pool';
import { MacRange } from '../pool/mac-range';
import { vmiOwnerName } from './pod-macs';
import { PodMutator } from './pod-mutator';

const options = (overrides: Partial<{ dryRun: boolean; policy: 'Warn' | 'Reject' }> = {}) => ({
  dryRun: false,
  policy: 'Warn' as const,
  deadline: 1000,
  ...overrides,
});

describe('PodMutator', () => {
  let pool: MacPool;
  let mutator: PodMutator;
  beforeEach(() => {
    pool = new MacPool(MacRange.parse('02:00:00:00:00:00', '02:00:00:00:00:0f'), () => 0);
    mutator = new PodMutator(pool);
  });

  const mutate = (
    networks: string | undefined,
    extra: Record<string, string> = {},
    opts = options(),
    name = 'p',
  ) =>
    mutator.mutate(
      decodeRequest(
        'uid-1',
        admissionReview({ kind: 'Pod', namespace: 'ns', object: podWithNetworks(name, networks, extra) })
          .request,
      ),
      opts,
    );
  const written = (mutation: ReturnType<typeof mutate>) =>
    JSON.parse(mutation.patch[0].value as string) as Record<string, unknown>[];

  it('gives each JSON element without a MAC one and keeps every other field', () => {
    const mutation = mutate(
      '[{"name":"ovs-conf","x-extra":[1,2]},{"name":"br","namespace":"other","interface":"eth3"}]',
    );
    expect(mutation.patch[0].path).toBe('/metadata/annotations/k8s.v1.cni.cncf.io~1networks');
    expect(written(mutation)).toEqual([
      { name: 'ovs-conf', 'x-extra': [1, 2], mac: '02:00:00:00:00:00' },
      { name: 'br', namespace: 'other', interface: 'eth3', mac: '02:00:00:00:00:01' },
    ]);
    expect(pool.entriesOf('pod/ns/p').map((e) => [e.key, e.state])).toEqual([
      ['ovs-conf#0', 'pending'],
      ['br#1', 'pending'],
    ]);
  });

  it('understands the Multus short form', () => {
    expect(written(mutate('net1, ns2/net2@eth1'))).toEqual([
      { name: 'net1', mac: '02:00:00:00:00:00' },
      { name: 'net2', namespace: 'ns2', interface: 'eth1', mac: '02:00:00:00:00:01' },
    ]);
  });

  it('records requested MACs without changing the annotation', () => {
    const mutation = mutate('[{"name":"a","mac":"0E-00-00-00-00-01"}]');
    expect(mutation.patch).toEqual([]);
    expect(pool.holders(MacAddress.parse('0e:00:00:00:00:01')).map((e) => e.owner)).toEqual(['pod/ns/p']);
  });

  it('admits an empty annotation, an absent one and a pod Multus already handled without change', () => {
    expect(mutate('').patch).toEqual([]);
    expect(mutate('   ').patch).toEqual([]);
    expect(mutate(undefined).patch).toEqual([]);
    expect(mutate('net1', { 'k8s.v1.cni.cncf.io/network-status': '[]' }).patch).toEqual([]);
    expect(pool.stats().used).toBe(0);
  });

  it('denies a malformed annotation or MAC naming the pod and the value, and gives back what it took', () => {
    const bad = (networks: string) => {
      try {
        mutate(networks);
      } catch (error) {
        return error as MutationException;
      }
      throw new Error('admitted');
    };
    expect(bad('[{"name":"a"},{"name":"b","mac":"02:00:00:00:00"}]').message).toBe(
      'pod/ns/p: network b: address 02:00:00:00:00: invalid MAC address',
    );
    expect(bad('{"name":"a"}').message).toMatch(
      /^pod\/ns\/p: parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: /,
    );
    expect(bad('[{"name":"a","mac":"02:00:00:00:00:09"},{"name":"b","mac":"nope"}]').code).toBe(
      MutationExceptionCode.MAC_MALFORMED,
    );
    expect(pool.stats()).toMatchObject({ used: 0, pending: 0 });
  });

  it('applies the duplicate policy to requested MACs', () => {
    const taken = pool.allocate('vm/ns/vm', 'default');
    expect(mutate(`[{"name":"a","mac":"${taken}"}]`).warnings).toEqual([
      `MAC address ${taken} requested for network a is already in use by vm/ns/vm`,
    ]);
    expect(() => mutate(`[{"name":"a","mac":"${taken}"}]`, {}, options({ policy: 'Reject' }), 'q')).toThrow(
      `MAC address ${taken} requested for network a of pod/ns/q is already in use by pod/ns/p, vm/ns/vm`,
    );
    expect(pool.entriesOf('pod/ns/q')).toEqual([]);
  });

  it('answers a dry run the same and changes nothing', () => {
    const dry = mutate('net1,net2', {}, options({ dryRun: true }));
    expect(pool.stats().used).toBe(0);
    expect(mutate('net1,net2').patch).toEqual(dry.patch);
  });

  it('answers a dry run on a nearly full range as the real request does', () => {
    // 16 MACs: 14 taken, one of them by another pod that this pod also asks for; 2 free, this pod needs 1.
    const taken = pool.allocate('pod/ns/other', 'n');
    for (let i = 0; i < 14; i++) pool.allocate(`pod/ns/x${i}`, 'n');
    expect(pool.stats().free).toBe(1);
    const networks = `[{"name":"a","mac":"${taken}"},{"name":"b"}]`;
    const dry = mutate(networks, {}, options({ dryRun: true }));
    expect(pool.stats().free).toBe(1);
    const real = mutate(networks);
    expect(real.patch).toEqual(dry.patch);
    expect(real.warnings).toEqual(dry.warnings);
    expect(written(real)[1].mac).toBe('02:00:00:00:00:0f');
  });

  it('denies a requested multicast MAC, naming the pod, the network and the value', () => {
    for (const dryRun of [false, true]) {
      const error = (() => {
        try {
          mutate('[{"name":"a"},{"name":"b","mac":"01:00:5e:00:00:01"}]', {}, options({ dryRun }));
        } catch (e) {
          if (e instanceof MutationException) return e;
          throw e;
        }
        throw new Error('admitted');
      })();
      expect(error.code).toBe(MutationExceptionCode.MAC_MULTICAST);
      expect(error.message).toBe(
        'pod/ns/p: network b: MAC address 01:00:5e:00:00:01 is a multicast address (the lowest bit of the first octet is set); no network interface can use it',
      );
    }
    expect(pool.stats()).toMatchObject({ used: 0, pending: 0 });
  });

  it('denies when the range is full and keeps nothing of the request', () => {
    for (let i = 0; i < 15; i++) pool.allocate(`pod/ns/x${i}`, 'n');
    expect(() => mutate('a,b')).toThrow(
      'the range is full: no MAC left in 02:00:00:00:00:00 - 02:00:00:00:00:0f for pod/ns/p',
    );
    expect(pool.stats().used).toBe(15);
  });

  it('finds the VMI owner of a virt-launcher pod', () => {
    expect(
      vmiOwnerName({ metadata: { ownerReferences: [{ kind: 'VirtualMachineInstance', name: 'vm1' }] } }),
    ).toBe('vm1');
    expect(
      vmiOwnerName({ metadata: { ownerReferences: [{ kind: 'ReplicaSet', name: 'rs' }] } }),
    ).toBeUndefined();
    expect(vmiOwnerName({})).toBeUndefined();
  });
});
