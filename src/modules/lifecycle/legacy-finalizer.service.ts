import { Inject, Injectable, Logger, type OnModuleDestroy, Optional } from '@nestjs/common';
import { describeError, statusCode } from '../kube/kube-errors';
import { VirtualMachineRepository } from '../kube/virtual-machine.repository';
import { NamespaceScopeService } from '../namespaces/namespace-scope.service';
import { LEGACY_FINALIZER } from './observed-object';

export interface LegacyFinalizerOptions {
  /** Removals in flight at most; more wait in a queue. */
  concurrency: number;
  /** First retry delay after a failed removal; doubles per failure up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
}

export const LEGACY_FINALIZER_OPTIONS = Symbol('LEGACY_FINALIZER_OPTIONS');
const DEFAULTS: LegacyFinalizerOptions = { concurrency: 4, retryBaseMs: 1_000, retryMaxMs: 60_000 };

/** One VM whose legacy finalizer is to be removed, as last observed. */
interface Removal {
  namespace: string;
  name: string;
  index: number;
  /** Bumped on every observation: a removal that lost a race with a change is tried again on the newer state. */
  generation: number;
  failures: number;
  retry?: NodeJS.Timeout;
}

/**
 * Removes the legacy finalizer of old Kubemacpool versions where it blocks something: from VMs being deleted in
 * managed namespaces (elsewhere the VM is someone else's business, and on a live VM it blocks nothing). Removals are
 * deduplicated per VM, at most `concurrency` in flight, retried with back-off; a VM that changed under a removal
 * (the patch's test op fails) is left to its next observation.
 */
@Injectable()
export class LegacyFinalizerService implements OnModuleDestroy {
  private readonly logger = new Logger(LegacyFinalizerService.name);
  private readonly options: LegacyFinalizerOptions;
  /** VMs to free, by `<namespace>/<name>`: queued, in flight or waiting to be retried. */
  private readonly removals = new Map<string, Removal>();
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly inFlight = new Set<string>();
  /** VMs whose removal failed and was logged: logged once until it succeeds or the VM is gone. */
  private readonly warned = new Set<string>();
  private stopped = false;

  constructor(
    private readonly vms: VirtualMachineRepository,
    private readonly scope: NamespaceScopeService,
    @Optional() @Inject(LEGACY_FINALIZER_OPTIONS) options?: Partial<LegacyFinalizerOptions>,
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  onModuleDestroy(): void {
    this.stopped = true;
    for (const removal of this.removals.values()) clearTimeout(removal.retry);
    this.removals.clear();
    this.queue.length = 0;
    this.queued.clear();
  }

  /** VMs in the queue, in flight or waiting for a retry. */
  get outstanding(): number {
    return this.removals.size;
  }

  /**
   * The latest state of a VM: `index` is where the legacy finalizer is in its finalizers when it is being deleted,
   * undefined otherwise (then nothing is to be done, and what was planned for it is dropped).
   */
  observe(namespace: string, name: string, index: number | undefined): void {
    const key = `${namespace}/${name}`;
    if (this.stopped) return;
    if (index === undefined || !this.scope.isManaged('virtualmachines', namespace)) {
      this.drop(key);
      return;
    }
    const removal = this.removals.get(key);
    if (removal === undefined) {
      this.removals.set(key, { namespace, name, index, generation: 0, failures: 0 });
    } else {
      removal.index = index;
      removal.generation++;
    }
    this.enqueue(key);
  }

  /** The VM is gone: nothing left to remove, and a later VM of the same name starts with a clean slate. */
  forget(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    this.drop(key);
    this.warned.delete(key);
  }

  private drop(key: string): void {
    const removal = this.removals.get(key);
    if (removal === undefined) return;
    clearTimeout(removal.retry);
    this.removals.delete(key);
  }

  /** Queues a VM unless it already is, or is in flight (its completion looks at the newest state), or waits. */
  private enqueue(key: string): void {
    const removal = this.removals.get(key);
    if (removal === undefined || removal.retry !== undefined) return;
    if (this.queued.has(key) || this.inFlight.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  private pump(): void {
    while (!this.stopped && this.inFlight.size < this.options.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      const removal = this.removals.get(key);
      if (removal === undefined) continue; // dropped while queued
      this.inFlight.add(key);
      void this.remove(key, removal).finally(() => {
        this.inFlight.delete(key);
        // Still wanted (observed again while in flight): go again on the newest state.
        if (this.removals.has(key)) this.enqueue(key);
        this.pump();
      });
    }
  }

  private async remove(key: string, removal: Removal): Promise<void> {
    const { namespace, name, index, generation } = removal;
    try {
      await this.vms.removeFinalizer(namespace, name, LEGACY_FINALIZER, index);
    } catch (error) {
      this.failed(key, removal, generation, error);
      return;
    }
    if (this.removals.get(key) === removal) this.removals.delete(key);
    this.warned.delete(key);
    this.logger.log('removed the legacy finalizer from a VM being deleted', {
      finalizer: LEGACY_FINALIZER,
      namespace,
      name,
    });
  }

  private failed(key: string, removal: Removal, generation: number, error: unknown): void {
    if (this.removals.get(key) !== removal) return; // dropped or forgotten meanwhile
    const status = statusCode(error);
    if (status === 404 || status === 422) {
      // Gone, or changed since it was observed: a newer observation (if any came) decides, else the next event.
      if (removal.generation === generation) this.removals.delete(key);
      return;
    }
    removal.failures++;
    const delayMs = Math.min(this.options.retryBaseMs * 2 ** (removal.failures - 1), this.options.retryMaxMs);
    if (!this.warned.has(key)) {
      this.warned.add(key);
      this.logger.warn('cannot remove the legacy finalizer, retrying with back-off', {
        finalizer: LEGACY_FINALIZER,
        namespace: removal.namespace,
        name: removal.name,
        retryInMs: delayMs,
        error: describeError(error),
      });
    }
    removal.retry = setTimeout(() => {
      removal.retry = undefined;
      this.enqueue(key);
    }, delayMs);
  }
}
