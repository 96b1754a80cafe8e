import { type AdmissionRequest } from './admission-review';
import { type MacAddress } from '../pool/mac-address';
import { type JsonPatchAdd } from './json-patch';

/** What a mutator decided for one request. An empty patch admits the object unchanged. */
export interface Mutation {
  patch: JsonPatchAdd[];
  warnings: string[];
  /** MACs this request assigned or recorded, for the request log. */
  macs: string[];
  /**
   * How many MACs the request takes or records in the pool (allocated, requested or kept); 0 or absent: it touches
   * no pool state, so any replica can answer it, leader or not.
   */
  poolWrites?: number;
}

export const NO_MUTATION: Mutation = Object.freeze({ patch: [], warnings: [], macs: [] }) as Mutation;

/** Decides the mutation of one kind of object. Throws MutationException to deny. */
export interface Mutator {
  mutate(request: AdmissionRequest): Mutation | Promise<Mutation>;
}

/** `<kind>/<namespace>/<name>`; an object still without a name (generateName) is keyed by its admission uid. */
export function ownerKey(kind: 'pod' | 'vm', namespace: string, name: string, uid: string): string {
  return `${kind}/${namespace}/${name === '' ? `~${uid}` : name}`;
}

export { isObject } from '../../common/objects';

/** One MAC an object carries, under the key its admission recorded it with (an interface name, a network key). */
export interface ObservedMac {
  key: string;
  mac: MacAddress;
}
