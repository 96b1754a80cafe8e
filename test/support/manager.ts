import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { X509Certificate } from 'node:crypto';
import { type AddressInfo } from 'node:net';
import { type TLSSocket } from 'node:tls';
import { type Manager, startManager } from '../../src/bootstrap';

/** Annotation the test-only route adds: the fingerprint of the certificate that served the request's connection. */
export const SERVED_BY_ANNOTATION = 'kubemacpool.io/test-served-by';
/** A route only tests register: admits everything and tells which certificate served it. */
export const TEST_ALLOW_PATH = '/test-allow';

export interface TestManager extends Manager {
  port: number;
}

/**
 * Starts the manager in this process against the test control plane (KUBECONFIG is set by the global setup, and
 * `--kubeconfig` in `args` wins over it), with the webhook server on a free port and the given environment on top of
 * test defaults.
 */
export async function startTestManager(
  env: Record<string, string>,
  beforeListen?: (app: NestFastifyApplication) => void,
  args: readonly string[] = [],
): Promise<TestManager> {
  const manager = await startManager(
    {
      RANGE_START: '02:00:00:00:00:00',
      RANGE_END: '02:00:00:00:ff:ff',
      WEBHOOK_PORT: '0',
      METRICS_ADDR: '127.0.0.1:0',
      METRICS_SECURE_ADDR: '',
      WEBHOOK_EXTRA_IP_ADDRESSES: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    { beforeListen, args },
  );
  if (manager === undefined) throw new Error('the manager refused its configuration');
  const port = (manager.app.getHttpServer().address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return { ...manager, port, close: () => (closing ??= manager.close()) };
}

/**
 * Registers TEST_ALLOW_PATH: an AdmissionReview v1 answer that admits and adds SERVED_BY_ANNOTATION. It is test
 * scaffolding for exercising TLS through the API server, not part of the product.
 */
export function addTestAllowRoute(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .post(TEST_ALLOW_PATH, async (request) => {
      const review = request.body as {
        request: { uid: string; object?: { metadata?: { annotations?: Record<string, string> } } };
      };
      const raw = (request.raw.socket as TLSSocket).getCertificate() as { raw?: Buffer } | null;
      const fingerprint = raw?.raw === undefined ? 'unknown' : new X509Certificate(raw.raw).fingerprint256;
      const annotations = review.request.object?.metadata?.annotations;
      const patch =
        annotations === undefined || Object.keys(annotations).length === 0
          ? [{ op: 'add', path: '/metadata/annotations', value: { [SERVED_BY_ANNOTATION]: fingerprint } }]
          : [
              {
                op: 'add',
                path: `/metadata/annotations/${SERVED_BY_ANNOTATION.replace('/', '~1')}`,
                value: fingerprint,
              },
            ];
      return {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid: review.request.uid,
          allowed: true,
          patchType: 'JSONPatch',
          patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
        },
      };
    });
}
