import { type AdmissionRequest } from '../admission/admission-review';
import { AdmissionException, AdmissionExceptionCode } from '../admission/admission.exception';
import { addAnnotation, type JsonPatchAdd, pointer } from '../admission/json-patch';
import { type ClaimOptions, MacClaims, parseRequestedMac } from '../admission/mac-claims';
import { isObject, type Mutation, NO_MUTATION, ownerKey } from '../admission/mutation';
import { MacAddress } from '../pool/mac-address';
import { type MacPool } from '../pool/mac-pool';
import { MAX_INTERFACES, TRANSACTION_TIMESTAMP_ANNOTATION } from './kubevirt.constants';

const INTERFACES_PATH = ['spec', 'template', 'spec', 'domain', 'devices', 'interfaces'] as const;

interface VmInterface {
  index: number;
  name: string;
  macAddress?: string;
  masquerade: boolean;
}

interface VmShape {
  interfaces: VmInterface[];
  /** Names of networks of type multus (default or not). */
  multusNetworks: Set<string>;
  annotations: Record<string, unknown> | undefined;
}

/** Settings a mutation is made with; `now` and the pending deadline come from the caller. */
export interface VmMutationContext extends ClaimOptions {
  now: Date;
}

function bad(prefix: string, message: string): AdmissionException {
  return new AdmissionException(AdmissionExceptionCode.BAD_REQUEST, `${prefix}${message}`);
}

/** Reads the interface list and networks of a VM, checking the shape of what is read. */
function readVm(vm: Record<string, unknown>, ref: string): VmShape | undefined {
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
    throw new AdmissionException(
      AdmissionExceptionCode.TOO_LARGE,
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
 * The `kubevirt.io/v1` VirtualMachine mutation (SPEC.md §3), with upstream's bugs fixed:
 * - an interface gets a MAC iff it binds with masquerade (on the pod network) or sits on a Multus network, on CREATE
 *   and on UPDATE alike (upstream skips the check on UPDATE, §13 item 6);
 * - on UPDATE the previous MACs come from `request.oldObject`, not a cache (§13 item 10), and an interface that lost
 *   its MAC in the request gets its previous one back, so re-applying the original YAML keeps every MAC;
 * - malformed MACs, one MAC on two interfaces and two interfaces with one name are denied with upstream's messages,
 *   in dry runs too (upstream skips these checks there).
 * MACs dropped or replaced by an UPDATE stay held here; they are released when the update is seen persisted.
 */
export class VirtualMachineMutator {
  constructor(private readonly pool: MacPool) {}

  mutate(request: AdmissionRequest, context: VmMutationContext): Mutation {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return NO_MUTATION;
    const vm = request.object;
    const metadata = isObject(vm.metadata) ? vm.metadata : {};
    if (metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null) return NO_MUTATION;
    const name = request.name || (typeof metadata.name === 'string' ? metadata.name : '');
    const owner = ownerKey('vm', request.namespace, name, request.uid);
    const prefix =
      request.operation === 'CREATE'
        ? 'Failed to create virtual machine allocation error: '
        : 'Failed to update virtual machine allocation error: ';
    const current = readVm(vm, owner);
    if (current === undefined) return NO_MUTATION;

    let previous: VmShape | undefined;
    if (request.operation === 'UPDATE') {
      previous = request.oldObject === undefined ? undefined : readVm(request.oldObject, owner);
      if (request.oldObject !== undefined && !changed(request.oldObject, vm)) return NO_MUTATION;
    }
    this.validate(current, prefix);

    const claims = new MacClaims(this.pool, owner, { ...context, since: context.now.getTime() });
    try {
      return this.assign(current, previous, claims, context.now);
    } catch (error) {
      claims.rollback();
      throw error;
    }
  }

  private validate(vm: VmShape, prefix: string): void {
    const names = new Set<string>();
    for (const iface of vm.interfaces) {
      if (names.has(iface.name)) {
        throw bad(prefix, 'Failed to mutate virtual machine: every interface must have a unique name');
      }
      names.add(iface.name);
    }
    const seen = new Map<number, string>();
    for (const iface of vm.interfaces) {
      if (iface.macAddress === undefined) continue;
      const mac = MacAddress.tryParseValue(iface.macAddress);
      if (mac === undefined) {
        throw bad(
          prefix,
          `Failed to allocate mac to the vm object: invalid MAC address format for interface ${iface.name}: ${iface.macAddress}: address ${iface.macAddress}: invalid MAC address`,
        );
      }
      const other = seen.get(mac);
      if (other !== undefined) {
        throw bad(
          prefix,
          `Failed to allocate mac to the vm object: duplicate MAC address ${MacAddress.format(mac)} found on interfaces: ${other} and ${iface.name}`,
        );
      }
      seen.set(mac, iface.name);
    }
  }

  private assign(current: VmShape, previous: VmShape | undefined, claims: MacClaims, now: Date): Mutation {
    const patch: JsonPatchAdd[] = [
      addAnnotation(current.annotations, TRANSACTION_TIMESTAMP_ANNOTATION, now.toISOString()),
    ];
    const macs: string[] = [];
    const previousNames = new Set((previous?.interfaces ?? []).map((i) => i.name));
    const previousMacs = new Map(
      (previous?.interfaces ?? [])
        .filter((i) => i.macAddress !== undefined)
        .map((i) => [i.name, i.macAddress!]),
    );
    const toAllocate: VmInterface[] = [];
    for (const iface of current.interfaces) {
      const supported = iface.masquerade || current.multusNetworks.has(iface.name);
      const kept = previousMacs.get(iface.name);
      if (iface.macAddress === undefined && kept !== undefined) {
        // The request omits a MAC the interface had: give it back (kubectl apply of the original YAML).
        patch.push({ op: 'add', path: pointer(...INTERFACES_PATH, iface.index, 'macAddress'), value: kept });
        macs.push(kept);
      } else if (iface.macAddress !== undefined && supported) {
        const mac = parseRequestedMac(iface.macAddress, `interface ${iface.name}`);
        const unchanged = kept !== undefined && MacAddress.tryParseValue(kept) === mac.value;
        // A MAC the interface already had is not a new request: no duplicate warning on every update.
        if (unchanged) claims.keep(iface.name, mac);
        else claims.request(iface.name, mac, `interface ${iface.name}`);
        macs.push(mac.toString());
      } else if (iface.macAddress === undefined && supported && !previousNames.has(iface.name)) {
        // Upstream leaves interfaces that existed without a MAC alone (their namespace was not managed then).
        toAllocate.push(iface);
      }
    }
    const allocated = claims.allocate(toAllocate.map((iface) => iface.name));
    toAllocate.forEach((iface, i) => {
      const mac = allocated[i].toString();
      patch.push({ op: 'add', path: pointer(...INTERFACES_PATH, iface.index, 'macAddress'), value: mac });
      macs.push(mac);
    });
    return { patch, warnings: claims.warnings, macs };
  }
}

/** Upstream's UPDATE test: the spec, the labels or the annotations (other than the timestamp) differ. */
function changed(before: Record<string, unknown>, after: Record<string, unknown>): boolean {
  const meta = (o: Record<string, unknown>) => (isObject(o.metadata) ? o.metadata : {});
  const annotations = (o: Record<string, unknown>) => {
    const all = isObject(meta(o).annotations) ? { ...(meta(o).annotations as Record<string, unknown>) } : {};
    delete all[TRANSACTION_TIMESTAMP_ANNOTATION];
    return all;
  };
  return (
    !deepEqual(before.spec, after.spec) ||
    !deepEqual(meta(before).labels ?? {}, meta(after).labels ?? {}) ||
    !deepEqual(annotations(before), annotations(after))
  );
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every(
    (key) =>
      Object.prototype.hasOwnProperty.call(b, key) &&
      deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

/**
 * The MACs a persisted VM carries on the interfaces that get one (masquerade, or a Multus network), keyed by
 * interface name; a malformed VM or MAC yields nothing for that part.
 */
export function virtualMachineMacs(vm: Record<string, unknown>): { key: string; mac: MacAddress }[] {
  let shape: VmShape | undefined;
  try {
    shape = readVm(vm, 'vm');
  } catch {
    return [];
  }
  const macs: { key: string; mac: MacAddress }[] = [];
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
