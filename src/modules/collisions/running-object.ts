import { type KubeObject } from '../kube/resource-watch';
import {
  NETWORKS_ANNOTATION,
  NETWORK_STATUS_ANNOTATION,
  parseNetworksAnnotation,
} from '../pods/network-annotation';
import { MacAddress } from '../pool/mac-address';
import { type CollisionSubject } from './collision-map';
import { VIRT_LAUNCHER_LABEL, VIRT_LAUNCHER_LABEL_VALUE } from './collisions.constants';

/** The two kinds of running objects whose MACs can collide; refs are `<kind>/<namespace>/<name>`. */
export type CollisionKind = 'pod' | 'vmi';

/**
 * A Pod or VirtualMachineInstance reduced, as it arrives, to what collision detection keeps: identity (for the
 * ref and the Events), its MACs as numbers and a VMI's migration UIDs. No annotation text, no status, no parsed
 * JSON outlives the reduction. `macs` is empty when the object does not count at all (not Running, a virt-launcher
 * pod, a pod Multus has not wired yet, no MACs).
 */
export interface RunningObject extends KubeObject, CollisionSubject {
  readonly metadata: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
  };
  readonly macs: readonly number[];
  /** MAC values that could not be parsed as 48-bit MACs; present only when there are some (they are logged). */
  readonly invalidMacs?: readonly string[];
}

const NO_MACS: readonly number[] = Object.freeze([]);

function identity(object: KubeObject): RunningObject['metadata'] {
  const { name, namespace, uid, resourceVersion } = object.metadata ?? {};
  return { name, namespace, uid, resourceVersion };
}

/** Collects the distinct values of `texts` into `macs`, and the unparsable ones into `invalid`. */
function collectMacs(texts: Iterable<string>): { macs: readonly number[]; invalid: string[] } {
  const macs: number[] = [];
  const invalid: string[] = [];
  for (const text of texts) {
    const value = MacAddress.tryParseValue(text);
    if (value === undefined) invalid.push(text);
    else if (!macs.includes(value)) macs.push(value);
  }
  return { macs: macs.length === 0 ? NO_MACS : macs, invalid };
}

function reduced(
  object: KubeObject,
  texts: Iterable<string>,
  migration: Pick<CollisionSubject, 'sourceMigration' | 'targetMigration'> = {},
): RunningObject {
  const { macs, invalid } = collectMacs(texts);
  return {
    metadata: identity(object),
    macs,
    ...(macs.length === 0 ? {} : migration),
    ...(invalid.length === 0 ? {} : { invalidMacs: invalid }),
  };
}

/** Whether a pod is a KubeVirt virt-launcher pod (label `kubevirt.io: virt-launcher`, exactly): its VMI counts. */
export function isVirtLauncher(pod: KubeObject): boolean {
  return pod.metadata?.labels?.[VIRT_LAUNCHER_LABEL] === VIRT_LAUNCHER_LABEL_VALUE;
}

/**
 * A Running pod (the watch's field selector guarantees the phase) as collision detection keeps it: the requested
 * MACs of its networks annotation (JSON or short form; the short form carries none), only once Multus wrote
 * `k8s.v1.cni.cncf.io/network-status`; none for virt-launcher pods or an unreadable annotation.
 */
export function reducePod(pod: KubeObject): RunningObject {
  const annotations = pod.metadata?.annotations;
  const networks = annotations?.[NETWORKS_ANNOTATION];
  if (isVirtLauncher(pod) || networks === undefined || annotations?.[NETWORK_STATUS_ANNOTATION] === undefined)
    return { metadata: identity(pod), macs: NO_MACS };
  let requested: string[];
  try {
    requested = parseNetworksAnnotation(networks).networks.flatMap((network) =>
      network.mac === undefined ? [] : [network.mac],
    );
  } catch {
    return { metadata: identity(pod), macs: NO_MACS }; // Multus could not read it either
  }
  return reduced(pod, requested);
}

interface VmiStatus {
  phase?: unknown;
  interfaces?: unknown;
  migrationState?: { sourceState?: { migrationUID?: unknown }; targetState?: { migrationUID?: unknown } };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A VMI as collision detection keeps it: when its phase is Running, the non-empty `status.interfaces[].mac`
 * values and the source and target migration UIDs of `status.migrationState`; nothing otherwise.
 */
export function reduceVmi(vmi: KubeObject): RunningObject {
  const status = (vmi as { status?: VmiStatus }).status;
  if (status?.phase !== 'Running' || !Array.isArray(status.interfaces))
    return { metadata: identity(vmi), macs: NO_MACS };
  const texts: string[] = [];
  for (const entry of status.interfaces as unknown[]) {
    const mac = nonEmpty((entry as { mac?: unknown } | null)?.mac);
    if (mac !== undefined) texts.push(mac);
  }
  const sourceMigration = nonEmpty(status.migrationState?.sourceState?.migrationUID);
  const targetMigration = nonEmpty(status.migrationState?.targetState?.migrationUID);
  return reduced(vmi, texts, {
    ...(sourceMigration === undefined ? {} : { sourceMigration }),
    ...(targetMigration === undefined ? {} : { targetMigration }),
  });
}

/** The ref of a reduced object, or undefined without a namespace and name. */
export function refOf(kind: CollisionKind, object: RunningObject): string | undefined {
  const { namespace, name } = object.metadata;
  return namespace && name ? `${kind}/${namespace}/${name}` : undefined;
}

/** Upstream's Event message: `MAC <mac>: Collision between <refs sorted, joined by ", ">`. */
export function collisionMessage(mac: string, sortedRefs: readonly string[]): string {
  return `MAC ${mac}: Collision between ${sortedRefs.join(', ')}`;
}
