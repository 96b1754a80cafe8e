import { Injectable } from '@nestjs/common';
import { KubeConnection } from './kube-connection';
import { VIRTUAL_MACHINE_INSTANCES_API } from './kube.constants';
import { type ReducedWatchOptions, listOptional, reducedWatch } from './reduced-watch';
import { type CollectionWatch, type KubeObject, type ListResult } from './resource-watch';

/** Without KubeVirt, how often the VirtualMachineInstance collection is looked for again. */
const KUBEVIRT_POLL_MS = 10_000;

const VIRTUAL_MACHINE_INSTANCES_PATH =
  `/apis/${VIRTUAL_MACHINE_INSTANCES_API.group}/${VIRTUAL_MACHINE_INSTANCES_API.version}` +
  `/${VIRTUAL_MACHINE_INSTANCES_API.plural}`;

/**
 * KubeVirt VirtualMachineInstances through the API server, read whole (their MACs are in the status) and reduced
 * page by page. Custom resources offer no field selector on the phase, so every VMI is listed. Without KubeVirt the
 * collection is not served (404): the list reports it `absent`, and the watch looks for it every KUBEVIRT_POLL_MS.
 */
@Injectable()
export class VirtualMachineInstanceRepository {
  constructor(private readonly kubeConfig: KubeConnection) {}

  /** Every VMI of the cluster, reduced as each page arrives; `absent` without KubeVirt. */
  async list<T extends KubeObject>(reduce: (vmi: KubeObject) => T): Promise<ListResult<T>> {
    return listOptional(this.kubeConfig, VIRTUAL_MACHINE_INSTANCES_PATH, reduce);
  }

  /** Lists then watches every VMI of the cluster; resumes and relists on its own until stopped. */
  watch<T extends KubeObject>(options: ReducedWatchOptions<T>): CollectionWatch {
    return reducedWatch(
      this.kubeConfig,
      { path: VIRTUAL_MACHINE_INSTANCES_PATH, absentPollMs: KUBEVIRT_POLL_MS },
      () => this.list(options.reduce),
      options,
    );
  }
}
