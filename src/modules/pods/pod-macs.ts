import { MacAddress } from '../pool/mac-address';
import { type ObservedMac } from '../lifecycle/pool-reconciler';
import { NETWORKS_ANNOTATION, NetworkAnnotationError, parseNetworksAnnotation } from './network-annotation';
import { networkKey } from './pod-mutator';

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
