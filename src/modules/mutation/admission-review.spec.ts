import { admissionReview, podWithNetworks } from '../../../test/fixtures/objects';
import { NotAnAdmissionReview, allowed, decodeRequest, denied, reviewEnvelope } from './admission-review';
import { MutationException } from './mutation.exception';

describe('AdmissionReview decoding and answers', () => {
  const review = admissionReview({
    kind: 'Pod',
    namespace: 'ns',
    object: podWithNetworks('p', 'net1'),
    uid: 'u-7',
  });

  it('reads v1 and v1beta1 envelopes', () => {
    expect(reviewEnvelope(review)).toMatchObject({ apiVersion: 'admission.k8s.io/v1', uid: 'u-7' });
    expect(reviewEnvelope({ ...review, apiVersion: 'admission.k8s.io/v1beta1' }).apiVersion).toBe(
      'admission.k8s.io/v1beta1',
    );
  });

  it.each([
    [null, 'the body is not a JSON object'],
    [[], 'the body is not a JSON object'],
    [{ kind: 'Pod' }, 'kind is "Pod", not AdmissionReview'],
    [
      { kind: 'AdmissionReview', apiVersion: 'v2' },
      'apiVersion "v2" is not admission.k8s.io/v1 or admission.k8s.io/v1beta1',
    ],
    [{ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request: {} }, 'request.uid is missing'],
  ])('refuses %j as not a review', (body, message) => {
    expect(() => reviewEnvelope(body)).toThrow(new NotAnAdmissionReview(message));
  });

  it('decodes a request and refuses malformed fields with a 400 naming them', () => {
    expect(decodeRequest('u-7', review.request)).toMatchObject({
      namespace: 'ns',
      name: 'p',
      operation: 'CREATE',
      dryRun: false,
    });
    const broken = (field: string, value: unknown) => () =>
      decodeRequest('u-7', { ...review.request, [field]: value });
    expect(broken('operation', 'PATCH')).toThrow(
      'malformed AdmissionReview u-7: request.operation "PATCH" is not one of CREATE, UPDATE, DELETE, CONNECT',
    );
    expect(broken('object', null)).toThrow('malformed AdmissionReview u-7: request.object is missing');
    expect(broken('kind', 'Pod')).toThrow(MutationException);
    expect(broken('dryRun', 'yes')).toThrow('request.dryRun must be a boolean');
  });

  it('answers with the uid, the review’s apiVersion, a base64 JSONPatch and warnings', () => {
    const answer = allowed(
      'admission.k8s.io/v1beta1',
      'u-7',
      [{ op: 'add', path: '/a', value: 1 }],
      ['careful'],
    );
    expect(answer).toEqual({
      apiVersion: 'admission.k8s.io/v1beta1',
      kind: 'AdmissionReview',
      response: {
        uid: 'u-7',
        allowed: true,
        patchType: 'JSONPatch',
        patch: Buffer.from('[{"op":"add","path":"/a","value":1}]').toString('base64'),
        warnings: ['careful'],
      },
    });
    expect(allowed('admission.k8s.io/v1', 'u-7').response).toEqual({ uid: 'u-7', allowed: true });
    expect(denied('admission.k8s.io/v1', 'u-7', { code: 409, reason: 'Conflict' }, 'taken').response).toEqual(
      {
        uid: 'u-7',
        allowed: false,
        status: { code: 409, reason: 'Conflict', message: 'taken' },
      },
    );
  });
});
