import { Injectable } from '@nestjs/common';
import { KubeConnection } from './kube-connection';
import { isNotFound } from './kube-errors';
import { PatchType, kubeJson } from './kube-http';
import { VIRTUAL_MACHINES_API } from './kube.constants';
import { type ReducedWatchOptions, listOptional, reducedWatch } from './reduced-watch';
import { type CollectionWatch, type KubeObject, type ListResult } from './resource-watch';

/** Without KubeVirt, how often the VirtualMachine collection is looked for again. */
const KUBEVIRT_POLL_MS = 10_000;

/** The VirtualMachine collection, cluster-wide or in one namespace. */
function virtualMachinesPath(namespace?: string): string {
  const base = `/apis/${VIRTUAL_MACHINES_API.group}/${VIRTUAL_MACHINES_API.version}`;
  return namespace === undefined
    ? `${base}/${VIRTUAL_MACHINES_API.plural}`
    : `${base}/namespaces/${namespace}/${VIRTUAL_MACHINES_API.plural}`;
}

/**
 * KubeVirt VirtualMachines through the API server. Without KubeVirt the collection is not served (404): lists then
 * report it `absent` instead of failing, so a Multus-only cluster works, and a watch looks for it again every
 * KUBEVIRT_POLL_MS until the CRD is installed.
 */
@Injectable()
export class VirtualMachineRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  /** Whether the VM exists; errors other than NotFound propagate. */
  async exists(namespace: string, name: string): Promise<boolean> {
    try {
      await kubeJson(this.kubeConfig, {
        path: `${virtualMachinesPath(namespace)}/${encodeURIComponent(name)}`,
      });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** Every VM of the cluster (namespace undefined) or of one namespace, reduced as each page arrives. */
  async list<T extends KubeObject>(
    namespace: string | undefined,
    reduce: (vm: KubeObject) => T,
  ): Promise<ListResult<T>> {
    return listOptional(this.kubeConfig, virtualMachinesPath(namespace), reduce);
  }

  /** Lists then watches every VM of the cluster; resumes and relists on its own until stopped. */
  watch<T extends KubeObject>(options: ReducedWatchOptions<T>): CollectionWatch {
    return reducedWatch(
      this.kubeConfig,
      { path: virtualMachinesPath(), absentPollMs: KUBEVIRT_POLL_MS },
      () => this.list(undefined, options.reduce),
      options,
    );
  }

  /**
   * Removes `finalizer` from a VM if it is still at `index` of its finalizers: a JSON patch whose `test` op makes
   * the API server refuse it (422) when the list changed since it was read. Errors propagate.
   */
  async removeFinalizer(namespace: string, name: string, finalizer: string, index: number): Promise<void> {
    const body = [
      { op: 'test', path: `/metadata/finalizers/${index}`, value: finalizer },
      { op: 'remove', path: `/metadata/finalizers/${index}` },
    ];
    await kubeJson(this.kubeConfig, {
      method: 'PATCH',
      path: `${virtualMachinesPath(namespace)}/${encodeURIComponent(name)}`,
      body,
      contentType: PatchType.JsonPatch,
    });
  }
}
