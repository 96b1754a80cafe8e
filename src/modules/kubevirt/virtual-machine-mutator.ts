import { isDeepStrictEqual } from 'node:util';
import { type AdmissionRequest } from '../mutation/admission-review';
import { MutationExceptionCode } from '../mutation/mutation.exception';
import { addAnnotation, type JsonPatchAdd, pointer } from '../mutation/json-patch';
import { type ClaimOptions, MacClaims } from '../mutation/mac-claims';
import { isObject, type Mutation, NO_MUTATION, ownerKey } from '../mutation/mutation';
import { MacAddress } from '../pool/mac-address';
import { type MacPool } from '../pool/mac-pool';
import { TRANSACTION_TIMESTAMP_ANNOTATION } from './kubevirt.constants';
import { bad, type VmInterface, type VmShape, readVm } from './virtual-machine-shape';

const INTERFACES_PATH = ['spec', 'template', 'spec', 'domain', 'devices', 'interfaces'] as const;

/** Settings a mutation is made with; `now` and the pending deadline come from the caller. */
export interface VmMutationContext extends ClaimOptions {
  now: Date;
}

/**
 * The `kubevirt.io/v1` VirtualMachine mutation (docs/architecture.md), with upstream's bugs fixed:
 * - an interface gets a MAC iff it binds with masquerade (on the pod network) or sits on a Multus network, on CREATE
 *   and on UPDATE alike (upstream skips the check on UPDATE);
 * - on UPDATE the previous MACs come from `request.oldObject`, not a cache that can be stale, and an interface that lost
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
    // The MACs the VM ends up with: an interface whose MAC the request omits gets its previous one back (see
    // assign), so a duplicate between a restored and a requested MAC is as much a duplicate as two requested ones.
    this.validate(withPreviousMacs(current, previous), previous, owner, prefix);

    const claims = new MacClaims(this.pool, owner, { ...context, since: context.now.getTime() });
    try {
      return this.assign(current, previous, claims, context.now);
    } catch (error) {
      claims.rollback();
      throw error;
    }
  }

  private validate(vm: VmShape, previous: VmShape | undefined, owner: string, prefix: string): void {
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
          MutationExceptionCode.MAC_MALFORMED,
        );
      }
      // No NIC can take a group address; the guest or the CNI plugin would refuse it far from the cause. A VM that
      // already carries one (admitted before this check existed) keeps it, so its other updates still go through.
      if (MacAddress.fromValue(mac).isMulticast && !hadMac(previous, iface.name, mac)) {
        throw bad(
          prefix,
          `${owner}: interface ${iface.name}: MAC address ${iface.macAddress} is a multicast address ` +
            '(the lowest bit of the first octet is set); no network interface can use it',
          MutationExceptionCode.MAC_MULTICAST,
        );
      }
      const other = seen.get(mac);
      if (other !== undefined) {
        throw bad(
          prefix,
          `Failed to allocate mac to the vm object: duplicate MAC address ${MacAddress.format(mac)} found on interfaces: ${other} and ${iface.name}`,
          MutationExceptionCode.MAC_DUPLICATE_IN_OBJECT,
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
        // validate() parsed every MAC of the request already (and refused new multicast ones).
        const mac = MacAddress.fromValue(MacAddress.tryParseValue(iface.macAddress)!);
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
    return { patch, warnings: claims.warnings, macs, poolWrites: claims.writes };
  }
}

/** The VM's interfaces with the MAC each will carry: its own, or the one `previous` had under the same name. */
function withPreviousMacs(current: VmShape, previous: VmShape | undefined): VmShape {
  if (previous === undefined) return current;
  const previousMacs = new Map(previous.interfaces.map((i) => [i.name, i.macAddress]));
  return {
    ...current,
    interfaces: current.interfaces.map((iface) =>
      iface.macAddress === undefined ? { ...iface, macAddress: previousMacs.get(iface.name) } : iface,
    ),
  };
}

/** Whether interface `name` of `previous` carried the MAC `value`. */
function hadMac(previous: VmShape | undefined, name: string, value: number): boolean {
  const before = previous?.interfaces.find((i) => i.name === name)?.macAddress;
  return before !== undefined && MacAddress.tryParseValue(before) === value;
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
    !isDeepStrictEqual(before.spec, after.spec) ||
    !isDeepStrictEqual(meta(before).labels ?? {}, meta(after).labels ?? {}) ||
    !isDeepStrictEqual(annotations(before), annotations(after))
  );
}
