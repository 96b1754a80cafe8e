import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { VM_WEBHOOK_NAME, buildWebhookConfiguration } from '../../src/common/webhook-configuration';
import { virtualMachine } from '../fixtures/objects';
import { chartIdentity } from '../support/chart-identity';
import { adminKubeConfig, controlPlaneInfo, createTestNamespace } from '../support/cluster';
import { logRecords } from '../support/manager-log';
import { ManagerProcess, buildManager } from '../support/manager-process';
import { VM_API, waitUntil } from '../support/webhook';

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);
const SCOPE = 'kubemacpool.io/test-scope';
const LEGACY_FINALIZER = 'k8s.v1.cni.cncf.io/kubeMacPool';
const REMOVED = 'removed the legacy finalizer from a VM being deleted';

interface VmObject {
  metadata: { name: string; finalizers?: string[]; deletionTimestamp?: string };
}

/** A VM with one masquerade interface (so it gets a MAC), carrying `finalizers`. */
function vmWith(name: string, finalizers: string[]): Record<string, unknown> {
  const vm = virtualMachine(name, [{ name: 'default', binding: 'masquerade' }], [{ name: 'default' }]);
  (vm.metadata as { finalizers?: string[] }).finalizers = finalizers;
  return vm;
}

const readVm = async (namespace: string, name: string) =>
  (await custom.getNamespacedCustomObject({ ...VM_API, namespace, name })) as VmObject;

const isGone = (namespace: string, name: string) =>
  custom.getNamespacedCustomObject({ ...VM_API, namespace, name }).then(
    () => undefined,
    (error: unknown) => ((error as { code?: number }).code === 404 ? true : undefined),
  );

/** Removes every finalizer of a VM (clean-up of a VM the manager was right to leave alone). */
const clearFinalizers = (namespace: string, name: string) =>
  custom.patchNamespacedCustomObject(
    { ...VM_API, namespace, name, body: { metadata: { finalizers: null } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );

beforeAll(() => buildManager(), 120_000);

describe('the legacy finalizer', () => {
  const scope = randomBytes(4).toString('hex');
  const configurationName = `kmp-legacy-${scope}`;
  let manager: ManagerProcess;
  let identity: Awaited<ReturnType<typeof chartIdentity>> | undefined;
  let managed: string;

  const committed = () => manager.metric('kubemacpool_pool_entries', '{state="committed"}');
  /**
   * Creates a VM in the managed namespace and waits until the manager committed its MAC: the watch delivers events in
   * order, so by then the manager has handled every VM event that came before this one.
   */
  async function processedSoFar(): Promise<void> {
    const before = await committed();
    await custom.createNamespacedCustomObject({
      ...VM_API,
      namespace: managed,
      body: vmWith(`marker-${randomBytes(3).toString('hex')}`, []),
    });
    await waitUntil('the marker VM committed', async () => ((await committed()) > before ? true : undefined));
  }
  const removalsLogged = (namespace: string, name: string) =>
    logRecords(manager.logPath).filter(
      (r) => r.message === REMOVED && r.namespace === namespace && r.name === name,
    );
  /**
   * The manager logs a removal when the API server has answered its patch, which can be after the API server already
   * finished the deletion the patch unblocked: wait for the line, then check there is exactly one.
   */
  async function removalLoggedOnce(namespace: string, name: string): Promise<void> {
    await waitUntil('the removal to be logged', async () =>
      removalsLogged(namespace, name).length > 0 ? true : undefined,
    );
    expect(removalsLogged(namespace, name)).toHaveLength(1);
  }

  beforeAll(async () => {
    const managerNamespace = await createTestNamespace('kmp-legacy-manager');
    // The chart's identity: removing the finalizer is the one write to VMs its RBAC allows (patch).
    identity = await chartIdentity(managerNamespace, configurationName);
    manager = await ManagerProcess.create(
      {
        KUBECONFIG: identity.kubeconfigPath,
        POD_NAMESPACE: managerNamespace,
        WEBHOOK_CONFIGURATION_NAME: configurationName,
        CA_PROPAGATION_DELAY: '1s',
        LOG_LEVEL: 'log',
        RANGE_START: '02:e6:00:00:00:00',
        RANGE_END: '02:e6:00:00:ff:ff',
      },
      join(controlPlaneInfo().directory, `manager-legacy-${scope}.log`),
    );
    await admission.createMutatingWebhookConfiguration({
      body: buildWebhookConfiguration({
        name: configurationName,
        podsMode: 'opt-out',
        virtualMachinesMode: 'opt-out',
        clientConfig: { url: `https://127.0.0.1:${manager.port}` },
        timeoutSeconds: 5,
        extraNamespaceSelectorExpressions: [{ key: SCOPE, operator: 'In', values: [scope] }],
      }),
    });
    await manager.start();
    managed = await createTestNamespace('legacy-managed', { [SCOPE]: scope });
  }, 120_000);
  afterAll(async () => {
    await admission.deleteMutatingWebhookConfiguration({ name: configurationName }).catch(() => undefined);
    await manager?.stop();
    await identity?.release();
  });

  it('stays on a VM that is not being deleted', async () => {
    await custom.createNamespacedCustomObject({
      ...VM_API,
      namespace: managed,
      body: vmWith('alive', [LEGACY_FINALIZER]),
    });
    await processedSoFar();
    // And a second time, so that any removal the first VM event might have started has long come back.
    await processedSoFar();
    expect((await readVm(managed, 'alive')).metadata.finalizers).toEqual([LEGACY_FINALIZER]);
    expect(removalsLogged(managed, 'alive')).toHaveLength(0);

    await custom.deleteNamespacedCustomObject({ ...VM_API, namespace: managed, name: 'alive' });
    await waitUntil('the deleted VM to be gone', () => isGone(managed, 'alive'));
    await removalLoggedOnce(managed, 'alive');
  });

  it('stays on a VM being deleted in an opted-out namespace, and goes once the namespace is managed', async () => {
    const optedOut = await createTestNamespace('legacy-opted-out', {
      [SCOPE]: scope,
      [VM_WEBHOOK_NAME]: 'ignore',
    });
    try {
      await custom.createNamespacedCustomObject({
        ...VM_API,
        namespace: optedOut,
        body: vmWith('doomed', [LEGACY_FINALIZER]),
      });
      await custom.deleteNamespacedCustomObject({ ...VM_API, namespace: optedOut, name: 'doomed' });
      await processedSoFar();
      await processedSoFar();
      const vm = await readVm(optedOut, 'doomed');
      expect(vm.metadata.deletionTimestamp).toBeDefined();
      expect(vm.metadata.finalizers).toEqual([LEGACY_FINALIZER]);
      expect(removalsLogged(optedOut, 'doomed')).toHaveLength(0);

      // Opting the namespace in again makes the VM the manager's: it frees it from what it already knows.
      await core.patchNamespace(
        { name: optedOut, body: { metadata: { labels: { [VM_WEBHOOK_NAME]: null } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await waitUntil('the VM to be gone', () => isGone(optedOut, 'doomed'));
      await removalLoggedOnce(optedOut, 'doomed');
    } finally {
      await clearFinalizers(optedOut, 'doomed').catch(() => undefined);
    }
  });
});
