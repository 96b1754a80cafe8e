import { MacAddress } from '../pool/mac-address';
import { isObject, type ObservedMac } from '../mutation/mutation';
import { NETWORKS_ANNOTATION, NetworkAnnotationError, parseNetworksAnnotation } from './network-annotation';

/** The pool key of one network element: its position and name, stable across the annotation's round trips. */
export function networkKey(index: number, name: string): string {
  return `${name}#${index}`;
}

/** The owner reference of a pod's VirtualMachineInstance, if KubeVirt launched it. */
export function vmiOwnerName(pod: Record<string, unknown>): string | undefined {
  const metadata = isObject(pod.metadata) ? pod.metadata : {};
  const owners = Array.isArray(metadata.ownerReferences) ? metadata.ownerReferences : [];
  const vmi = owners.find(
    (o: unknown) => isObject(o) && o.kind === 'VirtualMachineInstance' && typeof o.name === 'string',
  );
  return vmi === undefined ? undefined : (vmi as { name: string }).name;
}

/**
 * The MACs a persisted pod's networks annotation carries, keyed as the admission recorded them. An unparsable
 * annotation or MAC yields nothing for that part (the API server stored it; we cannot hold what we cannot read).
 */
export function podMacs(annotations: Record<string, string> | undefined): ObservedMac[] {
  const value = annotations?.[NETWORKS_ANNOTATION];
  if (value === undefined) return [];
  let networks;
  try {
    networks = parseNetworksAnnotation(value).networks;
  } catch (error) {
    if (error instanceof NetworkAnnotationError) return [];
    throw error;
  }
  const macs: ObservedMac[] = [];
  networks.forEach((network, index) => {
    const mac = network.mac === undefined ? undefined : MacAddress.tryParseValue(network.mac);
    if (mac !== undefined)
      macs.push({ key: networkKey(index, network.name), mac: MacAddress.fromValue(mac) });
  });
  return macs;
}
