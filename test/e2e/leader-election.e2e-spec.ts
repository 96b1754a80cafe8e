import { AdmissionregistrationV1Api, CoordinationV1Api } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildWebhookConfiguration } from '../../src/common/webhook-configuration';
import { admissionReview, podWithNetworks } from '../fixtures/objects';
import { chartIdentity } from '../support/chart-identity';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { logRecords } from '../support/manager-log';
import { ManagerProcess, buildManager } from '../support/manager-process';
import { postReview } from '../support/https-get';
import { waitUntil } from '../support/webhook';

const kc = adminKubeConfig();
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const coordination = kc.makeApiClient(CoordinationV1Api);
const LEASE = 'kubemacpool-mac-controller-manager';
const FORWARDED_BY = 'x-kubemacpool-forwarded-by';

interface Answer {
  uid?: string;
  allowed: boolean;
  patch?: string;
  status?: { code?: number; message?: string };
}

/** Sends an AdmissionReview straight to one manager (not through the API server), as the API server would. */
function review(
  manager: ManagerProcess,
  body: object,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return postReview<Answer>(manager.port, body, headers);
}

const pod = (namespace: string, networks?: string, dryRun = false) =>
  admissionReview({ kind: 'Pod', namespace, object: podWithNetworks('', networks), dryRun });

/**
 * Three manager processes in one namespace, with the chart's identity, electing a leader on the Lease with short
 * times (lease 4 s, renew deadline 3 s, retry 2 s) so that take-overs happen within the test.
 */
describe('leader election between three manager processes', () => {
  const scope = randomBytes(4).toString('hex');
  const configurationName = `kmp-leader-${scope}`;
  let namespace: string;
  let identity: Awaited<ReturnType<typeof chartIdentity>>;
  const managers: ManagerProcess[] = [];
  const gone = new Set<ManagerProcess>();
  const leading = async (manager: ManagerProcess) =>
    (await manager.metric('kmp_leader').catch(() => -1)) === 1;
  const holder = async () =>
    (await coordination.readNamespacedLease({ namespace, name: LEASE })).spec?.holderIdentity ?? '';
  const named = (id: string) => managers.find((m) => m.env.LEADER_ELECTION_IDENTITY === id)!;

  beforeAll(async () => {
    buildManager();
    namespace = await createTestNamespace('kmp-leader');
    identity = await chartIdentity(namespace, configurationName);
    for (const name of ['a', 'b', 'c']) {
      managers.push(
        await ManagerProcess.create(
          {
            KUBECONFIG: identity.kubeconfigPath,
            POD_NAMESPACE: namespace,
            WEBHOOK_CONFIGURATION_NAME: configurationName,
            RANGE_START: '02:e7:00:00:00:00',
            RANGE_END: '02:e7:00:00:ff:ff',
            CA_PROPAGATION_DELAY: '1s',
            LOG_LEVEL: 'log',
            LEADER_ELECTION_IDENTITY: `manager-${name}-${scope}`,
            LEADER_ELECTION_LEASE_DURATION: '4s',
            LEADER_ELECTION_RENEW_DEADLINE: '3s',
            LEADER_ELECTION_RETRY_PERIOD: '2s',
            // The leader publishes https://127.0.0.1:<port> in the Lease; the other forwards to it.
            POD_IP: '127.0.0.1',
          },
          join(controlPlaneInfo().directory, `manager-leader-${name}-${scope}.log`),
        ),
      );
    }
    await admission.createMutatingWebhookConfiguration({
      body: buildWebhookConfiguration({
        name: configurationName,
        podsMode: 'opt-in',
        virtualMachinesMode: 'opt-in',
        clientConfig: { url: `https://127.0.0.1:${managers[0].port}` },
        extraNamespaceSelectorExpressions: [
          { key: 'kubemacpool.io/test-scope', operator: 'In', values: [scope] },
        ],
      }),
    });
    for (const manager of managers) await manager.start(40_000);
  }, 120_000);

  afterAll(async () => {
    for (const manager of managers) await manager.stop();
    await admission.deleteMutatingWebhookConfiguration({ name: configurationName }).catch(() => undefined);
    await identity?.release();
  });

  it('elects exactly one, the Lease’s holder', async () => {
    const leaderId = await waitUntil('one leader', async () => {
      const flags = await Promise.all(managers.map(leading));
      const id = await holder();
      return flags.filter(Boolean).length === 1 && (await leading(named(id))) ? id : undefined;
    });
    expect(await leading(named(leaderId))).toBe(true);
    expect(await Promise.all(managers.map(leading))).toEqual(managers.map((m) => m === named(leaderId)));
  });

  it('lets the follower answer what needs no MAC itself and forward what does to the leader, verified by the CA', async () => {
    const leaderId = await holder();
    const leader = named(leaderId);
    const follower = managers.find((m) => m !== leader)!;
    await waitUntil('the leader to publish its address', async () =>
      (await coordination.readNamespacedLease({ namespace, name: LEASE })).metadata?.annotations?.[
        'kubemacpool.io/leader-url'
      ] === `https://127.0.0.1:${leader.port}`
        ? true
        : undefined,
    );
    const pending = (manager: ManagerProcess) =>
      manager.metric('kubemacpool_pool_entries', '{state="pending"}');
    const [leaderBefore, followerBefore] = [await pending(leader), await pending(follower)];
    expect(await review(follower, pod(namespace))).toEqual({ uid: expect.any(String), allowed: true });
    expect(await review(follower, pod(namespace, 'net1', true))).toMatchObject({
      allowed: true,
      patch: expect.any(String),
    });
    // Needs the pool: the leader allocates and answers, through the follower.
    const forwarded = await review(follower, pod(namespace, 'net1'));
    expect(forwarded).toMatchObject({ allowed: true, patch: expect.any(String) });
    expect(await pending(leader)).toBe(leaderBefore + 1);
    expect(await pending(follower)).toBe(followerBefore);
    // A review forwarded already is not forwarded again by a replica that is not the leader.
    const twice = await review(follower, pod(namespace, 'net1'), { [FORWARDED_BY]: 'another-replica' });
    expect(twice).toMatchObject({ allowed: false, status: { code: 503 } });
    expect(twice.status?.message).toContain(
      `another-replica forwarded it to this replica (${follower.env.LEADER_ELECTION_IDENTITY}), which is not the leader (any more); retry`,
    );
  });

  it('does not hand the pool over when the Lease is deleted: its holder recreates it, the others wait', async () => {
    const leaderId = await holder();
    await coordination.deleteNamespacedLease({ namespace, name: LEASE });
    const recreated = await waitUntil('the Lease to be back', async () => {
      const lease = await coordination.readNamespacedLease({ namespace, name: LEASE }).catch(() => undefined);
      return lease?.spec?.holderIdentity;
    });
    expect(recreated).toBe(leaderId);
    expect(await Promise.all(managers.map(leading))).toEqual(managers.map((m) => m === named(leaderId)));
  });

  it('fences a leader paused past its lease: another takes over, and woken it allocates nothing', async () => {
    const old = named(await holder());
    let other: ManagerProcess | undefined;
    process.kill(old.pid!, 'SIGSTOP');
    try {
      other = await waitUntil('another manager to take over', async () => {
        const id = await holder();
        return id !== old.env.LEADER_ELECTION_IDENTITY && (await leading(named(id))) ? named(id) : undefined;
      });
      expect(await review(other, pod(namespace, 'net1'))).toMatchObject({ allowed: true });
    } finally {
      process.kill(old.pid!, 'SIGCONT');
    }
    // Whatever it runs first once woken (its renewal timer or this request), its own clock says its fence passed.
    // It forwards to the new leader instead of allocating: its own pool gains no entry, the new leader's does.
    const pending = (manager: ManagerProcess) =>
      manager.metric('kubemacpool_pool_entries', '{state="pending"}');
    if (other === undefined) throw new Error('no other manager took over');
    const [oldBefore, otherBefore] = [await pending(old), await pending(other)];
    expect(await review(old, pod(namespace, 'net1'))).toMatchObject({
      allowed: true,
      patch: expect.any(String),
    });
    expect(await pending(old)).toBe(oldBefore);
    expect(await pending(other)).toBe(otherBefore + 1);
    await waitUntil('the woken manager to report itself a follower', async () =>
      (await old.metric('kmp_leader')) === 0 ? true : undefined,
    );
    expect(await holder()).toBe(other.env.LEADER_ELECTION_IDENTITY);
  });

  it('hands over on SIGTERM: the leader releases the Lease and another takes it at once, not at its next try', async () => {
    const old = named(await holder());
    const stopped = Date.now();
    gone.add(old);
    await old.stop();
    const next = await waitUntil('another manager to lead', async () => {
      const id = await holder();
      return id !== '' && id !== old.env.LEADER_ELECTION_IDENTITY && (await leading(named(id)))
        ? named(id)
        : undefined;
    });
    process.stdout.write(`SIGTERM hand-over: ${Date.now() - stopped} ms (retry period 2 s)\n`);
    expect(logRecords(old.logPath).some((record) => record.message === 'released the Lease')).toBe(true);
    // The watch saw the release and the round ran then: the log says what started it.
    const became = logRecords(next.logPath).filter((record) => record.message === 'became the leader');
    expect(became.at(-1)).toMatchObject({ trigger: 'released', why: 'acquired the Lease' });
    expect(await review(next, pod(namespace, 'net1'))).toMatchObject({ allowed: true });
  });

  it('fails over on SIGKILL once the lease has expired, by the followers’ clocks', async () => {
    const old = named(await holder());
    gone.add(old);
    const remaining = managers.filter((m) => !gone.has(m));
    const killed = Date.now();
    await old.kill();
    const next = await waitUntil('a remaining manager to lead', async () => {
      const id = await holder();
      return remaining.some((m) => m.env.LEADER_ELECTION_IDENTITY === id) && (await leading(named(id)))
        ? named(id)
        : undefined;
    });
    expect(await review(next, pod(namespace, 'net1'))).toMatchObject({
      allowed: true,
      patch: expect.any(String),
    });
    process.stdout.write(
      `SIGKILL fail-over to the first allocation: ${Date.now() - killed} ms (lease 4 s)\n`,
    );
    const became = logRecords(next.logPath).filter((record) => record.message === 'became the leader');
    expect(became.at(-1)).toMatchObject({ trigger: 'timer', why: 'acquired the Lease' });
  });
});
