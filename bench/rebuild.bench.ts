import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWebhookConfiguration } from '../src/common/webhook-configuration';
import { METADATA_ONLY, listAll } from '../src/modules/kube/kube-http';
import { isConflict } from '../src/modules/kube/kube-errors';
import { type CoreV1Api, type CustomObjectsApi } from '@kubernetes/client-node';
import { MacAddress } from '../src/modules/pool/mac-address';
import { POOL_USED_METRIC } from '../src/modules/metrics/metrics.constants';
import { admissionReview, podWithNetworks, virtualMachine } from '../test/fixtures/objects';
import { ManagerProcess, buildManager } from '../test/support/manager-process';
import { benchCluster } from './bench-cluster';
import { type BenchResult, type BenchSuite, median, secondsSince, settledHeapBytes } from './harness';

const VM_API = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' } as const;
const VMI_API = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances' } as const;
const NETWORK_STATUS = 'k8s.v1.cni.cncf.io/network-status';
const SCOPE = 'kubemacpool.io/bench-scope';
const CONFIGURATION = 'kmp-rebuild';
const MANAGER_NAMESPACE = 'kmp-rebuild';
const NAMESPACES = Array.from({ length: 10 }, (_, i) => `bulk-${i}`);
const CONCURRENCY = 16;
/** Manager starts per cluster size; the median is reported. */
const STARTS = 3;

/** 02:dd:00:00:00:00 + offset; pods take offsets from 0, VMs from 0x100000 (two per VM). */
const RANGE_START = 0x02dd00000000;
const VM_MAC_BASE = 0x100000;

function mac(offset: number): string {
  return MacAddress.format(RANGE_START + offset);
}

/** Even pods run with their network attached (Multus wrote network-status): collision detection watches those. */
function runsWithNetworks(index: number): boolean {
  return index % 2 === 0;
}

function bulkPod(index: number): Record<string, unknown> {
  const networkStatus: Record<string, string> = runsWithNetworks(index)
    ? { [NETWORK_STATUS]: JSON.stringify([{ name: 'tenant-a/net1', interface: 'net1', mac: mac(index) }]) }
    : {};
  return podWithNetworks(`pod-${index}`, JSON.stringify([{ name: 'net1', mac: mac(index) }]), networkStatus);
}

/** The MACs of VM `index`'s two interfaces. */
function vmMacs(index: number): [string, string] {
  return [mac(VM_MAC_BASE + 2 * index), mac(VM_MAC_BASE + 2 * index + 1)];
}

/** A VirtualMachineInstance and, through its status subresource, Running with `macs` as virt-handler reports them. */
async function createRunningVmi(custom: CustomObjectsApi, namespace: string, name: string, macs: string[]) {
  const created = (await custom
    .createNamespacedCustomObject({
      ...VMI_API,
      namespace,
      body: { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name }, spec: {} },
    })
    .catch((error: unknown) => {
      // A retry whose first create reached etcd: take the object as it is and set its status.
      if (isConflict(error)) return custom.getNamespacedCustomObject({ ...VMI_API, namespace, name });
      throw error;
    })) as Record<string, unknown>;
  const interfaces = macs.map((address, i) => ({ name: i === 0 ? 'default' : `br${i}`, mac: address }));
  await custom.replaceNamespacedCustomObjectStatus({
    ...VMI_API,
    namespace,
    name,
    body: { ...created, status: { phase: 'Running', interfaces } },
  });
}

/** Pod `index`; an even one then Running through its status subresource, as the kubelet reports it. */
async function createBulkPod(core: CoreV1Api, index: number): Promise<void> {
  const namespace = NAMESPACES[index % NAMESPACES.length];
  const name = `pod-${index}`;
  const created = await core
    .createNamespacedPod({ namespace, body: bulkPod(index) as never })
    .catch((error) => {
      if (isConflict(error)) return core.readNamespacedPod({ namespace, name });
      throw error;
    });
  if (!runsWithNetworks(index)) return;
  await core.replaceNamespacedPodStatus({
    namespace,
    name,
    body: { ...created, status: { phase: 'Running' } },
  });
}

/** Masquerade on the pod network and one bridge on a Multus network, both with their MAC set. */
function bulkVm(index: number): Record<string, unknown> {
  const [first, second] = vmMacs(index);
  return virtualMachine(
    `vm-${index}`,
    [
      { name: 'default', binding: 'masquerade', macAddress: first },
      { name: 'br1', binding: 'bridge', macAddress: second },
    ],
    [{ name: 'default' }, { name: 'br1', multus: 'tenant-a/br1' }],
  );
}

/** Runs `task(i)` for i in [from, to) with `CONCURRENCY` requests in flight; retries transient failures. */
async function createAll(
  label: string,
  from: number,
  to: number,
  task: (index: number) => Promise<unknown>,
): Promise<void> {
  const start = process.hrtime.bigint();
  let next = from;
  let done = 0;
  const total = to - from;
  const worker = async () => {
    while (next < to) {
      const index = next++;
      for (let attempt = 1; ; attempt++) {
        try {
          await task(index);
          break;
        } catch (error) {
          // A retried create whose first attempt did reach etcd answers 409: it exists, as intended.
          if (attempt > 1 && isConflict(error)) break;
          if (attempt >= 5) throw error;
          await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
        }
      }
      if (++done % 5000 === 0 || done === total) {
        const seconds = secondsSince(start);
        console.error(
          `rebuild: ${label} ${done}/${total} created (${Math.round(done / seconds)}/s, ${seconds.toFixed(0)} s)`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** One allocating AdmissionReview (a pod asking for one Multus MAC), sent straight to a manager, answered by it. */
function allocates(manager: ManagerProcess): Promise<boolean> {
  const body = JSON.stringify(
    admissionReview({ kind: 'Pod', namespace: NAMESPACES[0], object: podWithNetworks('', 'net1') }),
  );
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: manager.port,
        path: '/mutate-pods',
        method: 'POST',
        rejectUnauthorized: false,
        // As if forwarded already: a follower refuses instead of forwarding, so a success is the target's own MAC.
        headers: { 'content-type': 'application/json', 'x-kubemacpool-forwarded-by': 'bench' },
        timeout: 2_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          try {
            const answer = (JSON.parse(text) as { response?: { allowed?: boolean; patch?: string } })
              .response;
            resolve(answer?.allowed === true && answer.patch !== undefined);
          } catch {
            resolve(false);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end(body);
  });
}

/** Milliseconds from `since` until `manager` allocates (polled every 20 ms, bounded). */
async function firstAllocation(manager: ManagerProcess, since: number): Promise<number> {
  const deadline = since + 120_000;
  while (!(await allocates(manager))) {
    if (Date.now() > deadline) throw new Error(`no allocation by ${manager.logPath} within 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - since;
}

/** Waits until `kmp_mac_collisions{mac}` reads 2 (bounded): the seeded pod–VMI collision is reported. */
async function waitForCollision(manager: ManagerProcess, collisionMac: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await manager.metric('kmp_mac_collisions', `{mac="${collisionMac}"}`).catch(() => 0);
    if (value === 2) return;
    if (Date.now() > deadline)
      throw new Error(
        `kmp_mac_collisions{mac="${collisionMac}"} is ${value}, expected 2; log: ${manager.logPath}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * CPU time (user + system, every thread) a process has used, in ms: less sensitive than wall time to what else the
 * machine runs. /proc/<pid>/stat counts it in clock ticks, 100 per second on Linux.
 */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Peak resident set (VmHWM) of a process, in MiB. */
function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  if (line === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(line.split(/\s+/)[1]) / 1024;
}

/** The cluster sizes the suite measures, in the order it grows the cluster to them. */
const SIZES = ['empty', '10k', '50k'] as const;
type Size = (typeof SIZES)[number];

/** `--sizes empty,10k` (default: all). A larger size still creates the objects of the smaller ones first. */
function selectedSizes(args: readonly string[]): Set<Size> {
  const at = args.indexOf('--sizes');
  if (at < 0) return new Set(SIZES);
  const names = (args[at + 1] ?? '').split(',').filter((name) => name !== '');
  const unknown = names.filter((name) => !(SIZES as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0)
    throw new Error(`--sizes ${args[at + 1] ?? ''}: expected a comma-separated subset of ${SIZES.join(',')}`);
  return new Set(names as Size[]);
}

export const rebuildSuite: BenchSuite = {
  name: 'rebuild',
  async run(report, args) {
    const sizes = selectedSizes(args);
    buildManager();
    const { plane, kc, core, admission, custom } = await benchCluster();
    const logDirectory = mkdtempSync(join(tmpdir(), 'kmp-rebuild-bench-'));
    console.error(`rebuild: manager logs in ${logDirectory}`);
    const env = {
      RANGE_START: mac(0),
      RANGE_END: '02:dd:00:ff:ff:ff',
      POD_NAMESPACE: MANAGER_NAMESPACE,
      WEBHOOK_CONFIGURATION_NAME: CONFIGURATION,
      LOG_LEVEL: 'warn',
      CA_PROPAGATION_DELAY: '1s',
    };
    let manager: ManagerProcess | undefined;
    let starts = 0;

    /**
     * The webhook configuration (scoped to the bulk namespaces) exists only while a manager runs: the objects are
     * created without it, so the API server never calls a webhook for them and no manager needs to be up.
     */
    const measure = async (size: string, expectedUsed: number, runs = STARTS, collisionMac?: string) => {
      const ready: number[] = [];
      const synced: number[] = [];
      const rss: number[] = [];
      const cpu: number[] = [];
      const heap = { used: NaN, total: NaN };
      let used = NaN;
      for (let run = 0; run < runs; run++) {
        manager = await ManagerProcess.create(env, join(logDirectory, `manager-${++starts}-${size}.log`));
        await admission.createMutatingWebhookConfiguration({
          body: buildWebhookConfiguration({
            name: CONFIGURATION,
            podsMode: 'opt-out',
            virtualMachinesMode: 'opt-out',
            clientConfig: { url: `https://127.0.0.1:${manager.port}` },
            extraNamespaceSelectorExpressions: [{ key: SCOPE, operator: 'In', values: ['bulk'] }],
          }),
        });
        try {
          ready.push(await manager.start());
          if (collisionMac !== undefined) {
            // Collision detection lists after the pool rebuild and reports once both its lists are applied: the
            // seeded collision's series appearing is the moment it is synced. The peak RSS is read after it.
            const readyAt = Date.now();
            await waitForCollision(manager, collisionMac);
            synced.push(ready.at(-1)! + Date.now() - readyAt);
          }
          rss.push(peakRssMiB(manager.pid!));
          cpu.push(cpuMs(manager.pid!));
          used = await manager.metric(POOL_USED_METRIC);
          for (const key of ['used', 'total'] as const)
            heap[key] = (await manager.metric(`nodejs_heap_size_${key}_bytes`).catch(() => NaN)) / 2 ** 20;
          if (used !== expectedUsed) {
            throw new Error(
              `${POOL_USED_METRIC} is ${used} after the rebuild, expected ${expectedUsed}; log: ${manager.logPath}`,
            );
          }
        } finally {
          await manager.stop();
          await admission.deleteMutatingWebhookConfiguration({ name: CONFIGURATION });
        }
        console.error(
          `rebuild: ${size}: ready in ${ready.at(-1)} ms (${cpu.at(-1)} ms CPU)` +
            (synced.length > 0 ? `, collisions synced in ${synced.at(-1)} ms` : '') +
            `, peak RSS ${rss.at(-1)!.toFixed(1)} MiB, ` +
            `heap after ready ${heap.used.toFixed(1)} MiB used of ${heap.total.toFixed(1)} MiB`,
        );
      }
      return {
        readyMs: median(ready),
        syncedMs: synced.length > 0 ? median(synced) : undefined,
        rssMiB: Number(median(rss).toFixed(1)),
        cpuMs: median(cpu),
        used,
      };
    };

    /**
     * Leader fail-over with the default election times (lease 15 s, renew deadline 10 s, retry 2 s), two managers
     * warm on this cluster: SIGKILL the leader, then the time until the other hands out a MAC (target: the lease
     * duration + 1 s); a third starts, and SIGTERM of the second until the third hands out one (target: < 2 s).
     */
    const failover = async (size: string): Promise<BenchResult[]> => {
      const started: ManagerProcess[] = [];
      const start = async (label: string) => {
        // POD_IP as the chart sets it: a follower forwards to the leader's published address (or is refused fast).
        const next = await ManagerProcess.create(
          { ...env, POD_IP: '127.0.0.1' },
          join(logDirectory, `manager-${++starts}-${size}-${label}.log`),
        );
        started.push(next);
        if (started.length === 1) {
          await admission.createMutatingWebhookConfiguration({
            body: buildWebhookConfiguration({
              name: CONFIGURATION,
              podsMode: 'opt-out',
              virtualMachinesMode: 'opt-out',
              clientConfig: { url: `https://127.0.0.1:${next.port}` },
              extraNamespaceSelectorExpressions: [{ key: SCOPE, operator: 'In', values: ['bulk'] }],
            }),
          });
        }
        await next.start();
        return next;
      };
      try {
        const first = await start('first');
        await firstAllocation(first, Date.now());
        const second = await start('second');
        const killed = Date.now();
        await first.kill();
        const sigkill = await firstAllocation(second, killed);
        const third = await start('third');
        // Polled while the second shuts down: the hand-over is from SIGTERM to the third's first MAC.
        const stopped = Date.now();
        const stopping = second.stop();
        const sigterm = await firstAllocation(third, stopped);
        await stopping;
        console.error(`rebuild: ${size}: SIGKILL fail-over ${sigkill} ms, SIGTERM hand-over ${sigterm} ms`);
        return [
          { bench: `rebuild/failover-sigkill-ms-${size}`, value: sigkill, unit: 'ms', target: '<= 16000' },
          { bench: `rebuild/handover-sigterm-ms-${size}`, value: sigterm, unit: 'ms', target: '< 2000' },
        ];
      } finally {
        for (const manager of started) await manager.stop();
        await admission.deleteMutatingWebhookConfiguration({ name: CONFIGURATION }).catch(() => undefined);
      }
    };

    /**
     * The two lists the rebuild makes, from this process (same pages, same Accept headers): their time, and the heap
     * their items take while all are held, as the rebuild holds them before it applies them.
     */
    const lists = async () => {
      const before = settledHeapBytes();
      const start = process.hrtime.bigint();
      const vms = await listAll(kc, `/apis/${VM_API.group}/${VM_API.version}/${VM_API.plural}`);
      const pods = await listAll(kc, '/api/v1/pods', {}, METADATA_ONLY);
      const ms = Math.round(secondsSince(start) * 1000);
      const heapMiB = Number(((settledHeapBytes() - before) / 2 ** 20).toFixed(1));
      if (vms.items.length + pods.items.length === 0) throw new Error('the lists came back empty');
      return { ms, heapMiB };
    };

    const stage = async (
      size: string,
      pods: [number, number],
      vms: [number, number],
      measured: boolean,
      targets: { ready?: string; synced?: string; rss?: string },
    ) => {
      await createAll(`${size}: pods`, pods[0], pods[1], (i) => createBulkPod(core, i));
      await createAll(`${size}: VMs`, vms[0], vms[1], (i) =>
        custom.createNamespacedCustomObject({
          ...VM_API,
          namespace: NAMESPACES[i % NAMESPACES.length],
          body: bulkVm(i),
        }),
      );
      // Every VM runs: its instance reports the VM's MACs (the same object behind both, so no collision).
      await createAll(`${size}: running VMIs`, vms[0], vms[1], (i) =>
        createRunningVmi(custom, NAMESPACES[i % NAMESPACES.length], `vm-${i}`, vmMacs(i)),
      );
      // One seeded collision, between a VMI outside the pool and running pod-0 (same namespace), for the sync signal.
      if (pods[0] === 0) await createRunningVmi(custom, NAMESPACES[0], 'collider', [mac(0)]);
      if (!measured) return;
      const {
        readyMs,
        syncedMs,
        rssMiB,
        cpuMs: cpu,
        used,
      } = await measure(size, pods[1] + 2 * vms[1], STARTS, mac(0));
      const results: BenchResult[] = [
        { bench: `rebuild/ready-ms-${size}`, value: readyMs, unit: 'ms', target: targets.ready },
        {
          bench: `rebuild/collisions-synced-ms-${size}`,
          value: syncedMs!,
          unit: 'ms',
          target: targets.synced,
        },
        { bench: `rebuild/peak-rss-mib-${size}`, value: rssMiB, unit: 'MiB', target: targets.rss },
        { bench: `rebuild/cpu-ms-${size}`, value: cpu, unit: 'ms' },
        { bench: `rebuild/pool-used-${size}`, value: used, unit: 'MACs' },
      ];
      const listed = await lists();
      results.push(
        { bench: `rebuild/list-ms-${size}`, value: listed.ms, unit: 'ms' },
        { bench: `rebuild/list-heap-mib-${size}`, value: listed.heapMiB, unit: 'MiB' },
      );
      results.push(...(await failover(size)));
      results.forEach(report);
    };

    try {
      await core.createNamespace({ body: { metadata: { name: MANAGER_NAMESPACE } } });
      for (const name of NAMESPACES)
        await core.createNamespace({ body: { metadata: { name, labels: { [SCOPE]: 'bulk' } } } });

      // An empty cluster first: the fixed cost of a start, and the CA and serving certificate Secrets get created,
      // so the measured starts load them instead of waiting out the CA propagation delay.
      await measure('warm-up', 0, 1);
      if (sizes.has('empty')) {
        const empty = await measure('empty', 0);
        report({ bench: 'rebuild/ready-ms-empty', value: empty.readyMs, unit: 'ms' });
        report({ bench: 'rebuild/peak-rss-mib-empty', value: empty.rssMiB, unit: 'MiB' });
        report({ bench: 'rebuild/cpu-ms-empty', value: empty.cpuMs, unit: 'ms' });
      }
      if (sizes.has('10k') || sizes.has('50k'))
        await stage('10k-pods-1k-vms', [0, 10_000], [0, 1_000], sizes.has('10k'), {
          ready: '<= 1200',
          rss: '< 150',
        });
      if (sizes.has('50k'))
        await stage('50k-pods-5k-vms', [10_000, 50_000], [1_000, 5_000], true, {
          ready: '<= 10000',
          synced: '<= 10000',
          rss: '< 300',
        });
    } finally {
      await manager?.stop();
      await admission.deleteMutatingWebhookConfiguration({ name: CONFIGURATION }).catch(() => undefined);
      await plane.stop();
    }
  },
};
