import { type AdmissionRequest } from '../mutation/admission-review';
import { MutationException, MutationExceptionCode } from '../mutation/mutation.exception';
import { type JsonPatchAdd, pointer } from '../mutation/json-patch';
import { type ClaimOptions, MacClaims, parseRequestedMac } from '../mutation/mac-claims';
import { isObject, type Mutation, NO_MUTATION, ownerKey } from '../mutation/mutation';
import { type MacPool } from '../pool/mac-pool';
import {
  NETWORK_STATUS_ANNOTATION,
  NETWORKS_ANNOTATION,
  NetworkAnnotationError,
  parseNetworksAnnotation,
  serializeNetworks,
} from './network-annotation';
import { networkKey } from './pod-macs';

/**
 * The Pod mutation: every element of the Multus networks annotation without a `mac` gets one from the
 * pool, requested ones are recorded; the primary interface is never touched. Fixed against upstream: the short form
 * (`net1,ns2/net2@eth1`) is understood, every field the user wrote is kept, and an empty annotation admits the pod
 * unchanged instead of denying it (upstream ignores the short form and denies an empty annotation).
 */
export class PodMutator {
  constructor(private readonly pool: MacPool) {}

  mutate(request: AdmissionRequest, options: ClaimOptions): Mutation {
    if (request.operation !== 'CREATE') return NO_MUTATION;
    const pod = request.object;
    const metadata = isObject(pod.metadata) ? pod.metadata : {};
    const annotations = isObject(metadata.annotations) ? metadata.annotations : {};
    const value = annotations[NETWORKS_ANNOTATION];
    if (value === undefined || value === null) return NO_MUTATION;
    // Multus already processed this pod (it carries the result): nothing to decide any more.
    if (annotations[NETWORK_STATUS_ANNOTATION] !== undefined) return NO_MUTATION;
    const name = request.name || (typeof metadata.name === 'string' ? metadata.name : '');
    const owner = ownerKey('pod', request.namespace, name, request.uid);
    if (typeof value !== 'string') {
      throw new MutationException(
        MutationExceptionCode.OBJECT_MALFORMED,
        `${owner}: annotation ${NETWORKS_ANNOTATION} must be a string`,
      );
    }
    let parsed;
    try {
      parsed = parseNetworksAnnotation(value);
    } catch (error) {
      if (!(error instanceof NetworkAnnotationError)) throw error;
      throw new MutationException(MutationExceptionCode.OBJECT_MALFORMED, `${owner}: ${error.message}`);
    }
    if (parsed.networks.length === 0) return NO_MUTATION;

    const claims = new MacClaims(this.pool, owner, options);
    try {
      const macs: string[] = [];
      const toAllocate: number[] = [];
      parsed.networks.forEach((network, index) => {
        if (network.mac === undefined || network.mac === '') {
          toAllocate.push(index);
          return;
        }
        const what = `network ${network.name}`;
        const mac = parseRequestedMac(network.mac, `${owner}: ${what}`);
        claims.request(networkKey(index, network.name), mac, what);
        macs.push(mac.toString());
      });
      if (toAllocate.length === 0)
        return { patch: [], warnings: claims.warnings, macs, poolWrites: claims.writes };
      const allocated = claims.allocate(toAllocate.map((i) => networkKey(i, parsed.networks[i].name)));
      const assigned = new Map(toAllocate.map((index, i) => [index, allocated[i].toString()]));
      macs.push(...assigned.values());
      const patch: JsonPatchAdd[] = [
        {
          op: 'add',
          path: pointer('metadata', 'annotations', NETWORKS_ANNOTATION),
          value: serializeNetworks(parsed, assigned),
        },
      ];
      return { patch, warnings: claims.warnings, macs, poolWrites: claims.writes };
    } catch (error) {
      claims.rollback();
      throw error;
    }
  }
}
