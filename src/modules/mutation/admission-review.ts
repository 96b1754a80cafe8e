import { MutationException, MutationExceptionCode } from './mutation.exception';
import { type JsonPatchAdd } from './json-patch';
import { isObject } from '../../common/objects';

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];
export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** The parts of an AdmissionRequest the mutators use, checked for type. */
export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  namespace: string;
  name: string;
  operation: Operation;
  object: Record<string, unknown>;
  oldObject?: Record<string, unknown>;
  dryRun: boolean;
}

/** An AdmissionReview answer: always HTTP 200, the request's uid echoed, the review's own apiVersion. */
export interface AdmissionReviewResponse {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; reason?: string; message: string };
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
  };
}

/** A body that is not an AdmissionReview at all: there is no uid to answer, so it gets a plain HTTP 400. */
export class NotAnAdmissionReview extends Error {}

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/**
 * The envelope of a review: its apiVersion and uid, enough to answer it. Throws NotAnAdmissionReview when even that
 * is missing.
 */
export function reviewEnvelope(body: unknown): {
  apiVersion: AdmissionApiVersion;
  uid: string;
  request: unknown;
} {
  if (!isObject(body)) throw new NotAnAdmissionReview('the body is not a JSON object');
  if (body.kind !== 'AdmissionReview')
    throw new NotAnAdmissionReview(`kind is ${JSON.stringify(body.kind)}, not AdmissionReview`);
  const apiVersion = body.apiVersion as AdmissionApiVersion;
  if (!ADMISSION_API_VERSIONS.includes(apiVersion)) {
    throw new NotAnAdmissionReview(
      `apiVersion ${JSON.stringify(body.apiVersion)} is not ${ADMISSION_API_VERSIONS.join(' or ')}`,
    );
  }
  const request = body.request;
  if (!isObject(request) || typeof request.uid !== 'string' || request.uid.length === 0) {
    throw new NotAnAdmissionReview('request.uid is missing');
  }
  return { apiVersion, uid: request.uid, request };
}

/** Checks the request's fields the mutators rely on; a bad one is a 400 denial naming it. */
export function decodeRequest(uid: string, raw: unknown): AdmissionRequest {
  const request = raw as Record<string, unknown>;
  const bad = (what: string) =>
    new MutationException(
      MutationExceptionCode.REVIEW_MALFORMED,
      `malformed AdmissionReview ${uid}: ${what}`,
    );
  const kind = request.kind;
  if (
    !isObject(kind) ||
    typeof kind.kind !== 'string' ||
    typeof kind.group !== 'string' ||
    typeof kind.version !== 'string'
  ) {
    throw bad('request.kind must be {group, version, kind}');
  }
  if (typeof request.operation !== 'string' || !OPERATIONS.includes(request.operation)) {
    throw bad(
      `request.operation ${JSON.stringify(request.operation)} is not one of ${OPERATIONS.join(', ')}`,
    );
  }
  if (request.namespace !== undefined && typeof request.namespace !== 'string')
    throw bad('request.namespace must be a string');
  if (request.name !== undefined && typeof request.name !== 'string')
    throw bad('request.name must be a string');
  if (!isObject(request.object)) throw bad('request.object is missing');
  if (request.oldObject !== undefined && request.oldObject !== null && !isObject(request.oldObject)) {
    throw bad('request.oldObject must be an object');
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean')
    throw bad('request.dryRun must be a boolean');
  return {
    uid,
    kind: { group: kind.group, version: kind.version, kind: kind.kind },
    namespace: (request.namespace as string | undefined) ?? '',
    name: (request.name as string | undefined) ?? '',
    operation: request.operation as Operation,
    object: request.object,
    oldObject: isObject(request.oldObject) ? request.oldObject : undefined,
    dryRun: request.dryRun === true,
  };
}

export function allowed(
  apiVersion: AdmissionApiVersion,
  uid: string,
  patch: readonly JsonPatchAdd[] = [],
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  const response: AdmissionReviewResponse['response'] = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  if (warnings.length > 0) response.warnings = [...warnings];
  return { apiVersion, kind: 'AdmissionReview', response };
}

export function denied(
  apiVersion: AdmissionApiVersion,
  uid: string,
  status: { code: number; reason?: string },
  message: string,
): AdmissionReviewResponse {
  return {
    apiVersion,
    kind: 'AdmissionReview',
    response: { uid, allowed: false, status: { ...status, message } },
  };
}
