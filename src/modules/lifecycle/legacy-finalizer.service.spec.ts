import { ApiException } from '@kubernetes/client-node';
import { type VirtualMachineRepository } from '../kube/virtual-machine.repository';
import { type NamespaceScopeService } from '../namespaces/namespace-scope.service';
import { LegacyFinalizerService } from './legacy-finalizer.service';
import { LEGACY_FINALIZER } from './observed-object';

/** Lets every settled promise and timer of 0-1 ms run, as many rounds as it takes (bounded, not timed). */
async function drain(until: () => boolean, rounds = 2_000): Promise<void> {
  for (let i = 0; i < rounds && !until(); i++) await new Promise((resolve) => setTimeout(resolve, 0));
  expect(until()).toBe(true);
}

/** A fake VirtualMachineRepository: each removeFinalizer waits until the test settles it. */
class FakeVms {
  inFlight = 0;
  maxInFlight = 0;
  readonly calls: { vm: string; index: number; finalizer: string }[] = [];
  readonly waiting: { vm: string; resolve: () => void; reject: (error: unknown) => void }[] = [];

  removeFinalizer(namespace: string, name: string, finalizer: string, index: number): Promise<void> {
    const vm = `${namespace}/${name}`;
    this.calls.push({ vm, index, finalizer });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise<void>((resolve, reject) => {
      const done = () => this.inFlight--;
      this.waiting.push({
        vm,
        resolve: () => (done(), resolve()),
        reject: (error) => (done(), reject(error)),
      });
    });
  }

  /** Settles the oldest waiting call. */
  next(outcome: 'ok' | number): string {
    const call = this.waiting.shift()!;
    if (outcome === 'ok') call.resolve();
    else call.reject(new ApiException(outcome, 'failed', '{"message":"failed"}', {}));
    return call.vm;
  }
}

function service(managed: (namespace: string) => boolean = () => true) {
  const vms = new FakeVms();
  const scope = { isManaged: (_kind: string, namespace: string) => managed(namespace) };
  const finalizers = new LegacyFinalizerService(
    vms as unknown as VirtualMachineRepository,
    scope as unknown as NamespaceScopeService,
    { concurrency: 4, retryBaseMs: 1, retryMaxMs: 4 },
  );
  return { vms, finalizers };
}

describe('LegacyFinalizerService', () => {
  it('never has more than 4 removals in flight, retries failures and frees every VM', async () => {
    const { vms, finalizers } = service();
    for (let i = 0; i < 50; i++) finalizers.observe('ns', `vm${i}`, 1);
    expect(vms.inFlight).toBe(4);
    const failedOnce = new Set<string>();
    while (finalizers.outstanding > 0) {
      await drain(() => vms.waiting.length > 0 || finalizers.outstanding === 0);
      if (vms.waiting.length === 0) break;
      expect(vms.inFlight).toBeLessThanOrEqual(4);
      const vm = vms.waiting[0].vm;
      // Every third VM fails with a server error the first time: it must be tried again.
      if (Number(vm.slice(5)) % 3 === 0 && !failedOnce.has(vm)) {
        failedOnce.add(vm);
        vms.next(500);
      } else {
        vms.next('ok');
      }
    }
    expect(vms.maxInFlight).toBe(4);
    expect(finalizers.outstanding).toBe(0);
    expect(failedOnce.size).toBe(17);
    const removed = new Set(vms.calls.map((c) => c.vm));
    expect(removed.size).toBe(50);
    expect(vms.calls).toHaveLength(50 + 17);
    expect(vms.calls.every((c) => c.finalizer === LEGACY_FINALIZER && c.index === 1)).toBe(true);
    finalizers.onModuleDestroy();
  });

  it('deduplicates a VM observed again while queued or in flight', async () => {
    const { vms, finalizers } = service();
    for (let i = 0; i < 6; i++) finalizers.observe('ns', `vm${i}`, 0);
    finalizers.observe('ns', 'vm5', 0); // queued: not queued twice
    finalizers.observe('ns', 'vm0', 0); // in flight: not sent twice at once
    expect(vms.calls).toHaveLength(4);
    for (let i = 0; i < 6; i++) {
      await drain(() => vms.waiting.length > 0);
      vms.next('ok');
    }
    await drain(() => finalizers.outstanding === 0);
    expect(vms.calls.map((c) => c.vm).sort()).toEqual([
      'ns/vm0',
      'ns/vm1',
      'ns/vm2',
      'ns/vm3',
      'ns/vm4',
      'ns/vm5',
    ]);
  });

  it('drops a VM whose removal the API refused as stale (422) or gone (404), without retrying', async () => {
    const { vms, finalizers } = service();
    finalizers.observe('ns', 'changed', 0);
    finalizers.observe('ns', 'gone', 0);
    vms.next(422);
    vms.next(404);
    await drain(() => finalizers.outstanding === 0);
    expect(vms.calls).toHaveLength(2);
  });

  it('tries a stale (422) removal again on a newer observation that came while it was in flight', async () => {
    const { vms, finalizers } = service();
    finalizers.observe('ns', 'vm', 2);
    finalizers.observe('ns', 'vm', 1); // another finalizer before ours went away meanwhile
    vms.next(422);
    await drain(() => vms.waiting.length > 0);
    expect(vms.calls.map((c) => c.index)).toEqual([2, 1]);
    vms.next('ok');
    await drain(() => finalizers.outstanding === 0);
  });

  it('leaves VMs alone that are not being deleted, or whose namespace is not managed', () => {
    const { vms, finalizers } = service((namespace) => namespace === 'managed');
    finalizers.observe('managed', 'alive', undefined);
    finalizers.observe('elsewhere', 'deleting', 0);
    expect(vms.calls).toHaveLength(0);
    expect(finalizers.outstanding).toBe(0);
  });

  it('stops retrying a VM once it is gone or no longer needs it', async () => {
    const { vms, finalizers } = service();
    finalizers.observe('ns', 'a', 0);
    finalizers.observe('ns', 'b', 0);
    vms.next(500);
    vms.next(500);
    finalizers.forget('ns', 'a');
    finalizers.observe('ns', 'b', undefined); // seen without the finalizer: nothing left to do
    expect(finalizers.outstanding).toBe(0);
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    expect(vms.calls).toHaveLength(2);
  });
});
