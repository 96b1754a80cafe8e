import { collisionMessage, isVirtLauncher, reducePod, reduceVmi, refOf } from './running-object';

const NETWORKS = 'k8s.v1.cni.cncf.io/networks';
const STATUS = 'k8s.v1.cni.cncf.io/network-status';

function pod(annotations: Record<string, string>, labels: Record<string, string> = {}) {
  return {
    metadata: {
      name: 'p',
      namespace: 'ns',
      uid: 'u-1',
      resourceVersion: '7',
      labels,
      annotations,
      managedFields: [{ manager: 'kubectl' }],
    },
  };
}

function vmi(status: Record<string, unknown>) {
  return {
    metadata: { name: 'v', namespace: 'ns', uid: 'u-2', resourceVersion: '9' },
    spec: { big: 1 },
    status,
  };
}

describe('reducePod', () => {
  it('keeps identity and the requested MACs of the JSON form as numbers, once each, nothing else', () => {
    const reduced = reducePod(
      pod({
        [NETWORKS]: JSON.stringify([
          { name: 'a', mac: '02:00:00:00:00:0A' },
          { name: 'b' },
          { name: 'c', mac: '02-00-00-00-00-0a' },
          { name: 'd', mac: '0200.0000.000b' },
        ]),
        [STATUS]: '[{"name":"default","ips":["10.0.0.1"]}]',
      }),
    );
    expect(reduced).toEqual({
      metadata: { name: 'p', namespace: 'ns', uid: 'u-1', resourceVersion: '7' },
      macs: [0x02000000000a, 0x02000000000b],
    });
  });

  it('counts nothing before Multus wrote network-status', () => {
    expect(reducePod(pod({ [NETWORKS]: '[{"name":"a","mac":"02:00:00:00:00:01"}]' })).macs).toEqual([]);
  });

  it('reads the short form (which carries no MAC) and ignores an unreadable annotation', () => {
    expect(reducePod(pod({ [NETWORKS]: 'other/net1@eth1,net2', [STATUS]: '[]' })).macs).toEqual([]);
    expect(reducePod(pod({ [NETWORKS]: '[{"name":', [STATUS]: '[]' })).macs).toEqual([]);
    expect(reducePod(pod({ [STATUS]: '[]' })).macs).toEqual([]);
  });

  it('skips virt-launcher pods (label kubevirt.io=virt-launcher exactly)', () => {
    const annotations = { [NETWORKS]: '[{"name":"a","mac":"02:00:00:00:00:01"}]', [STATUS]: '[]' };
    const launcher = pod(annotations, { 'kubevirt.io': 'virt-launcher' });
    expect(isVirtLauncher(launcher)).toBe(true);
    expect(reducePod(launcher).macs).toEqual([]);
    expect(reducePod(pod(annotations, { 'kubevirt.io': 'virt-handler' })).macs).toEqual([0x020000000001]);
  });

  it('reports invalid MACs apart and keeps the valid ones', () => {
    const reduced = reducePod(
      pod({
        [NETWORKS]: JSON.stringify([
          { name: 'a', mac: 'not-a-mac' },
          { name: 'b', mac: '02:00:00:00:00:01' },
        ]),
        [STATUS]: '[]',
      }),
    );
    expect(reduced.macs).toEqual([0x020000000001]);
    expect(reduced.invalidMacs).toEqual(['not-a-mac']);
  });
});

describe('reduceVmi', () => {
  it('keeps the lowercase-normalised status MACs of a Running VMI and its migration UIDs', () => {
    const reduced = reduceVmi(
      vmi({
        phase: 'Running',
        interfaces: [{ name: 'default', mac: '02:AA:00:00:00:01' }, { name: 'x', mac: '' }, { name: 'y' }],
        migrationState: { sourceState: { migrationUID: 'm-1' }, targetState: { migrationUID: '' } },
        conditions: [{ type: 'Ready' }],
      }),
    );
    expect(reduced).toEqual({
      metadata: { name: 'v', namespace: 'ns', uid: 'u-2', resourceVersion: '9' },
      macs: [0x02aa00000001],
      sourceMigration: 'm-1',
    });
  });

  it('counts nothing for a VMI that is not Running', () => {
    for (const phase of ['Pending', 'Scheduling', 'Scheduled', 'Succeeded', 'Failed', undefined]) {
      expect(reduceVmi(vmi({ phase, interfaces: [{ mac: '02:00:00:00:00:01' }] })).macs).toEqual([]);
    }
    expect(reduceVmi({ metadata: { name: 'v', namespace: 'ns' } }).macs).toEqual([]);
  });

  it('logs-and-skips an invalid status MAC', () => {
    const reduced = reduceVmi(
      vmi({ phase: 'Running', interfaces: [{ mac: 'zz' }, { mac: '02:00:00:00:00:02' }] }),
    );
    expect(reduced.macs).toEqual([0x020000000002]);
    expect(reduced.invalidMacs).toEqual(['zz']);
  });

  it('tolerates malformed status fields', () => {
    expect(reduceVmi(vmi({ phase: 'Running', interfaces: 'x' })).macs).toEqual([]);
    expect(reduceVmi(vmi({ phase: 'Running', interfaces: [null, 3, { mac: 5 }] })).macs).toEqual([]);
    expect(
      reduceVmi(vmi({ phase: 'Running', interfaces: [{ mac: '02:00:00:00:00:03' }], migrationState: null })),
    ).toEqual(expect.not.objectContaining({ sourceMigration: expect.anything() }));
  });
});

describe('refs and messages', () => {
  it('names objects <kind>/<namespace>/<name>', () => {
    expect(refOf('vmi', reduceVmi(vmi({})))).toBe('vmi/ns/v');
    expect(refOf('pod', reducePod(pod({})))).toBe('pod/ns/p');
    expect(refOf('pod', reducePod({ metadata: { name: 'x' } }))).toBeUndefined();
  });

  it('writes upstream’s message', () => {
    expect(collisionMessage('02:00:00:00:00:01', ['pod/a/p', 'vmi/b/v'])).toBe(
      'MAC 02:00:00:00:00:01: Collision between pod/a/p, vmi/b/v',
    );
  });
});
