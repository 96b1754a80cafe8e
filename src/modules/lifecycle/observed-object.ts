import { type KubeObject } from '../kube/resource-watch';
import { TRANSACTION_TIMESTAMP_ANNOTATION } from '../kubevirt/kubevirt.constants';
import { persistedTimestamp, virtualMachineMacs } from '../kubevirt/virtual-machine-shape';
import { type ObservedMac } from '../mutation/mutation';
import { NETWORKS_ANNOTATION } from '../pods/network-annotation';
import { podMacs, vmiOwnerName } from '../pods/pod-macs';

/** KubeVirt's legacy finalizer, still on VMs from old Kubemacpool versions; nothing but us removes it any more. */
export const LEGACY_FINALIZER = 'k8s.v1.cni.cncf.io/kubeMacPool';

/** The two kinds whose persisted objects hold MACs; pool owners are `<kind>/<namespace>/<name>`. */
export type Kind = 'pod' | 'vm';

/** What the pool needs of one persisted object; kept instead of the object (100k pods must not mean 100k specs). */
export interface Observed {
  namespace: string;
  name: string;
  macs: ObservedMac[];
  /** The admission time the persisted version reflects (see PoolReconciler.observe). */
  persistedAt: number;
  /** For pods: the VMI that launched it, if any. */
  vmi?: string;
  /** For VMs being deleted that the legacy finalizer holds back: its index in metadata.finalizers. */
  legacyFinalizerIndex?: number;
}

/** The parts of a pod the life cycle reads: name, namespace, the networks annotation, a VMI owner. */
export function compactPod(pod: KubeObject): KubeObject {
  const metadata = pod.metadata ?? {};
  const networks = metadata.annotations?.[NETWORKS_ANNOTATION];
  const vmi = metadata.ownerReferences?.find((o) => o.kind === 'VirtualMachineInstance');
  return {
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      resourceVersion: metadata.resourceVersion,
      ...(networks === undefined ? {} : { annotations: { [NETWORKS_ANNOTATION]: networks } }),
      ...(vmi === undefined ? {} : { ownerReferences: [vmi] }),
    },
  };
}

/**
 * The parts of a VM the life cycle reads: identity, whether it is being deleted and its finalizers (for the legacy
 * one), the transaction timestamp, interfaces and networks.
 */
export function compactVm(vm: KubeObject): KubeObject {
  const metadata = vm.metadata ?? {};
  const raw = vm as {
    spec?: { template?: { spec?: { domain?: { devices?: { interfaces?: unknown } }; networks?: unknown } } };
  };
  const templateSpec = raw.spec?.template?.spec;
  const timestamp = metadata.annotations?.[TRANSACTION_TIMESTAMP_ANNOTATION];
  return {
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace,
      resourceVersion: metadata.resourceVersion,
      ...(metadata.deletionTimestamp === undefined ? {} : { deletionTimestamp: metadata.deletionTimestamp }),
      finalizers: metadata.finalizers,
      ...(timestamp === undefined ? {} : { annotations: { [TRANSACTION_TIMESTAMP_ANNOTATION]: timestamp } }),
    },
    spec: {
      template: {
        spec: {
          domain: { devices: { interfaces: templateSpec?.domain?.devices?.interfaces } },
          networks: templateSpec?.networks,
        },
      },
    },
  } as KubeObject;
}

export const COMPACT: Record<Kind, (object: KubeObject) => KubeObject> = { pod: compactPod, vm: compactVm };

/**
 * An object as the life cycle keeps it: its identity and resourceVersion (a watch resumes from it) and what the pool
 * needs of it, read when the object arrived.
 */
export interface ObservedObject extends KubeObject {
  readonly observed: Observed;
}

/**
 * Reads an object as it arrives: during a list that is page by page, so the annotations and interfaces are parsed
 * while the next pages are still on their way, and only what the pool needs is held until the list is applied.
 */
export const OBSERVE: Record<Kind, (object: KubeObject) => ObservedObject> = {
  pod: (object) => observedObject('pod', object),
  vm: (object) => observedObject('vm', object),
};

function observedObject(kind: Kind, object: KubeObject): ObservedObject {
  const { name, namespace, resourceVersion } = object.metadata ?? {};
  return { metadata: { name, namespace, resourceVersion }, observed: observe(kind, object) };
}

/** The pool owner of an object: `<kind>/<namespace>/<name>`, or undefined without a namespace and name. */
export function ownerOf(kind: Kind, object: KubeObject): string | undefined {
  const { namespace, name } = object.metadata ?? {};
  return namespace && name ? `${kind}/${namespace}/${name}` : undefined;
}

/**
 * The index of the legacy finalizer on a VM being deleted, where it keeps the VM from going away; undefined when the
 * VM is not being deleted (there it blocks nothing, and removing it would be a write nobody asked for) or lacks it.
 */
export function legacyFinalizerIndex(vm: KubeObject): number | undefined {
  const metadata = vm.metadata ?? {};
  if (metadata.deletionTimestamp === undefined || metadata.deletionTimestamp === null) return undefined;
  const index = metadata.finalizers?.indexOf(LEGACY_FINALIZER) ?? -1;
  return index < 0 ? undefined : index;
}

/** Reads what the pool needs of an object (whole or compacted: both have the fields it reads). */
export function observe(kind: Kind, object: KubeObject): Observed {
  const metadata = object.metadata ?? {};
  const record = object as Record<string, unknown>;
  const identity = { namespace: metadata.namespace ?? '', name: metadata.name ?? '' };
  if (kind === 'pod') {
    return {
      ...identity,
      macs: podMacs(metadata.annotations),
      persistedAt: -Infinity, // see PoolReconciler.observe
      vmi: vmiOwnerName(record),
    };
  }
  const index = legacyFinalizerIndex(object);
  return {
    ...identity,
    macs: virtualMachineMacs(record),
    persistedAt: persistedTimestamp(record),
    ...(index === undefined ? {} : { legacyFinalizerIndex: index }),
  };
}
