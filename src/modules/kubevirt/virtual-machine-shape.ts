import { isObject, type ObservedMac } from '../mutation/mutation';
import { MutationException, MutationExceptionCode } from '../mutation/mutation.exception';
import { MacAddress } from '../pool/mac-address';
import { MAX_INTERFACES, TRANSACTION_TIMESTAMP_ANNOTATION } from './kubevirt.constants';

export interface VmInterface {
  index: number;
  name: string;
  macAddress?: string;
  masquerade: boolean;
}

export interface VmShape {
  interfaces: VmInterface[];
  /** Names of networks of type multus (default or not). */
  multusNetworks: Set<string>;
  annotations: Record<string, unknown> | undefined;
}

/** A denial of a malformed VM; `prefix` is upstream's operation prefix, empty for shape errors. */
export function bad(
  prefix: string,
  message: string,
  code = MutationExceptionCode.OBJECT_MALFORMED,
): MutationException {
  return new MutationException(code, `${prefix}${message}`);
}

/** Reads the interface list and networks of a VM, checking the shape of what is read. */
export function readVm(vm: Record<string, unknown>, ref: string): VmShape | undefined {
  const metadata = isObject(vm.metadata) ? vm.metadata : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : undefined;
  const spec = isObject(vm.spec) ? vm.spec : undefined;
  const template = spec !== undefined && isObject(spec.template) ? spec.template : undefined;
  if (template === undefined) return undefined;
  const templateSpec = isObject(template.spec) ? template.spec : {};
  const domain = isObject(templateSpec.domain) ? templateSpec.domain : {};
  const devices = isObject(domain.devices) ? domain.devices : {};
  const rawInterfaces = devices.interfaces ?? [];
  const rawNetworks = templateSpec.networks ?? [];
  if (!Array.isArray(rawInterfaces))
    throw bad('', `${ref}: spec.template.spec.domain.devices.interfaces must be a list`);
  if (!Array.isArray(rawNetworks)) throw bad('', `${ref}: spec.template.spec.networks must be a list`);
  if (rawInterfaces.length > MAX_INTERFACES) {
    throw new MutationException(
      MutationExceptionCode.TOO_LARGE,
      `${ref}: too many interfaces: ${rawInterfaces.length} (at most ${MAX_INTERFACES})`,
    );
  }
  const interfaces = rawInterfaces.map((raw: unknown, index): VmInterface => {
    if (!isObject(raw) || typeof raw.name !== 'string' || raw.name === '') {
      throw bad('', `${ref}: interface ${index} must be an object with a name`);
    }
    const mac = raw.macAddress;
    if (mac !== undefined && mac !== null && typeof mac !== 'string') {
      throw bad('', `${ref}: interface ${raw.name}: macAddress must be a string, got ${JSON.stringify(mac)}`);
    }
    return { index, name: raw.name, macAddress: mac || undefined, masquerade: raw.masquerade !== undefined };
  });
  const multusNetworks = new Set<string>();
  for (const network of rawNetworks) {
    if (isObject(network) && typeof network.name === 'string' && isObject(network.multus))
      multusNetworks.add(network.name);
  }
  return { interfaces, multusNetworks, annotations };
}

/**
 * The MACs a persisted VM carries on the interfaces that get one (masquerade, or a Multus network), keyed by
 * interface name; a malformed VM or MAC yields nothing for that part.
 */
export function virtualMachineMacs(vm: Record<string, unknown>): ObservedMac[] {
  let shape: VmShape | undefined;
  try {
    shape = readVm(vm, 'vm');
  } catch {
    return [];
  }
  const macs: ObservedMac[] = [];
  for (const iface of shape?.interfaces ?? []) {
    if (!(iface.masquerade || shape!.multusNetworks.has(iface.name)) || iface.macAddress === undefined)
      continue;
    const value = MacAddress.tryParseValue(iface.macAddress);
    if (value !== undefined) macs.push({ key: iface.name, mac: MacAddress.fromValue(value) });
  }
  return macs;
}

/** The admission time a persisted VM reflects (its transaction timestamp), or -Infinity without one. */
export function persistedTimestamp(vm: Record<string, unknown>): number {
  const metadata = isObject(vm.metadata) ? vm.metadata : {};
  const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
  const value = annotations[TRANSACTION_TIMESTAMP_ANNOTATION];
  const time = typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isNaN(time) ? -Infinity : time;
}
