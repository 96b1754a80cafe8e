/** The KubeVirt VirtualMachine collection (`kubevirt.io/v1`), as the custom-objects client addresses it. */
export const VIRTUAL_MACHINES_API = {
  group: 'kubevirt.io',
  version: 'v1',
  plural: 'virtualmachines',
} as const;

/** The KubeVirt VirtualMachineInstance collection (`kubevirt.io/v1`). */
export const VIRTUAL_MACHINE_INSTANCES_API = {
  group: 'kubevirt.io',
  version: 'v1',
  plural: 'virtualmachineinstances',
} as const;
