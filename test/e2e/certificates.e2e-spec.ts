import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
} from '@kubernetes/client-node';
import { X509Certificate, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { adminKubeConfig, createTestNamespace } from '../support/cluster';
import { sleep, waitUntil } from '../support/webhook';
import {
  SERVED_BY_ANNOTATION,
  TEST_ALLOW_PATH,
  type TestManager,
  addTestAllowRoute,
  startTestManager,
} from '../support/manager';

const kc = adminKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);

function firstCertificate(pem: string | undefined): X509Certificate | undefined {
  const block = pem?.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  return block === undefined ? undefined : new X509Certificate(block);
}

function bundlePem(configuration: V1MutatingWebhookConfiguration, index = 0): string {
  return Buffer.from(configuration.webhooks?.[index]?.clientConfig.caBundle ?? '', 'base64').toString('utf8');
}

/**
 * A scenario: a manager namespace, a target namespace whose Pod creations go through the API server to the test
 * route of the manager's HTTPS server, and a webhook configuration of its own (created without a caBundle).
 */
class Scenario {
  readonly configurationName = `kmp-test-${randomBytes(4).toString('hex')}`;
  managerNamespace = '';
  targetNamespace = '';
  manager!: TestManager;

  async start(env: Record<string, string>): Promise<void> {
    this.managerNamespace = await createTestNamespace('kmp-certs');
    const target = randomBytes(4).toString('hex');
    this.targetNamespace = await createTestNamespace('kmp-certs-target', {
      'kubemacpool.io/test-target': target,
    });
    this.manager = await startTestManager(
      { POD_NAMESPACE: this.managerNamespace, WEBHOOK_CONFIGURATION_NAME: this.configurationName, ...env },
      addTestAllowRoute,
    );
    const url = `https://127.0.0.1:${this.manager.port}${TEST_ALLOW_PATH}`;
    const webhook = (name: string, resources: string[]) => ({
      name,
      clientConfig: { url },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources }],
      namespaceSelector: { matchLabels: { 'kubemacpool.io/test-target': target } },
      sideEffects: 'None',
      failurePolicy: 'Fail',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: 5,
    });
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: this.configurationName },
        webhooks: [
          webhook('pods.test.kubemacpool.io', ['pods']),
          webhook('configmaps.test.kubemacpool.io', ['configmaps']),
        ],
      },
    });
  }

  async stop(): Promise<void> {
    await admission
      .deleteMutatingWebhookConfiguration({ name: this.configurationName })
      .catch(() => undefined);
    await this.manager?.close();
  }

  configuration(): Promise<V1MutatingWebhookConfiguration> {
    return admission.readMutatingWebhookConfiguration({ name: this.configurationName });
  }

  /** A dry-run Pod creation through the API server; returns the fingerprint of the certificate that served it. */
  async admit(): Promise<string> {
    const pod: V1Pod = await core.createNamespacedPod({
      namespace: this.targetNamespace,
      dryRun: 'All',
      body: {
        metadata: { generateName: 'probe-', annotations: {} },
        spec: { containers: [{ name: 'main', image: 'registry.invalid/pause:1' }] },
      },
    });
    const servedBy = pod.metadata?.annotations?.[SERVED_BY_ANNOTATION];
    if (servedBy === undefined) throw new Error('the webhook did not mutate the Pod');
    return servedBy;
  }

  /** Waits until a Pod creation through the API server succeeds; returns the serving fingerprint. */
  admitted(timeoutMs = 20_000): Promise<string> {
    return waitUntil('an admission through the API server', () => this.admit(), timeoutMs);
  }

  async secretCertificate(name: string, key: string): Promise<X509Certificate | undefined> {
    const secret = await core
      .readNamespacedSecret({ namespace: this.managerNamespace, name })
      .catch(() => undefined);
    const data = secret?.data?.[key];
    return firstCertificate(data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8'));
  }
}

describe('webhook certificates through the real kube-apiserver', () => {
  describe('rotation every few seconds', () => {
    const scenario = new Scenario();
    beforeAll(() =>
      scenario.start({
        CA_ROTATE_INTERVAL: '16s',
        CA_OVERLAP_INTERVAL: '6s',
        CERT_ROTATE_INTERVAL: '6s',
        CERT_OVERLAP_INTERVAL: '3s',
        CA_PROPAGATION_DELAY: '1s',
      }),
    );
    afterAll(() => scenario.stop());

    it('creates the Secrets with upstream names and types and injects the CA into every webhook', async () => {
      await scenario.admitted();
      const ca = await core.readNamespacedSecret({
        namespace: scenario.managerNamespace,
        name: `${scenario.configurationName}-ca`,
      });
      const serving = await core.readNamespacedSecret({
        namespace: scenario.managerNamespace,
        name: 'kubemacpool-service',
      });
      expect(ca.type).toBe('Opaque');
      expect(Object.keys(ca.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key']);
      expect(serving.type).toBe('kubernetes.io/tls');
      expect(Object.keys(serving.data ?? {}).sort()).toEqual(['tls.crt', 'tls.key']);
      const configuration = await scenario.configuration();
      const caCertificate = await scenario.secretCertificate(`${scenario.configurationName}-ca`, 'ca.crt');
      expect(caCertificate?.subject).toBe(`CN=${scenario.configurationName}`);
      for (const index of [0, 1]) {
        expect(firstCertificate(bundlePem(configuration, index))?.fingerprint256).toBe(
          caCertificate?.fingerprint256,
        );
      }
      const leaf = await scenario.secretCertificate('kubemacpool-service', 'tls.crt');
      expect(leaf?.subjectAltName).toContain(
        `DNS:kubemacpool-service.${scenario.managerNamespace}.svc.cluster.local`,
      );
      expect(leaf?.subjectAltName).toContain('IP Address:127.0.0.1');
    });

    it('keeps admitting through several CA and serving-certificate rotations with no failure', async () => {
      const served = new Set<string>();
      const cas = new Set<string>();
      const failures: string[] = [];
      let requests = 0;
      const until = Date.now() + 34_000;
      const watchBundle = (async () => {
        while (Date.now() < until) {
          const first = firstCertificate(bundlePem(await scenario.configuration()));
          if (first !== undefined) cas.add(first.fingerprint256);
          await sleep(250);
        }
      })();
      while (Date.now() < until) {
        requests++;
        try {
          served.add(await scenario.admit());
        } catch (error) {
          failures.push(String(error).slice(0, 400));
        }
      }
      await watchBundle;
      expect(failures).toEqual([]);
      expect(requests).toBeGreaterThan(200);
      expect(cas.size).toBeGreaterThanOrEqual(3);
      expect(served.size).toBeGreaterThanOrEqual(5);
    }, 60_000);

    it('drops expired CAs from the caBundle', async () => {
      const bundle = bundlePem(await scenario.configuration());
      const now = Date.now();
      const certificates =
        bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      expect(certificates.length).toBeGreaterThanOrEqual(1);
      expect(certificates.length).toBeLessThanOrEqual(3);
      for (const pem of certificates)
        expect(Date.parse(new X509Certificate(pem).validTo)).toBeGreaterThan(now - 2000);
    });
  });

  describe('healing', () => {
    const scenario = new Scenario();
    beforeAll(() => scenario.start({ CA_PROPAGATION_DELAY: '1s' }));
    afterAll(() => scenario.stop());

    it('re-issues a deleted serving Secret within seconds and serves the new certificate', async () => {
      const before = await scenario.admitted();
      const oldLeaf = await scenario.secretCertificate('kubemacpool-service', 'tls.crt');
      expect(before).toBe(oldLeaf?.fingerprint256);
      await core.deleteNamespacedSecret({
        namespace: scenario.managerNamespace,
        name: 'kubemacpool-service',
      });
      const newLeaf = await waitUntil(
        'a new serving Secret',
        async () => {
          const leaf = await scenario.secretCertificate('kubemacpool-service', 'tls.crt');
          return leaf !== undefined && leaf.fingerprint256 !== oldLeaf?.fingerprint256 ? leaf : undefined;
        },
        10_000,
      );
      const after = await waitUntil(
        'the new certificate to serve',
        async () => {
          const servedBy = await scenario.admit();
          return servedBy === newLeaf.fingerprint256 ? servedBy : undefined;
        },
        10_000,
      );
      expect(after).not.toBe(before);
    });

    it('re-injects a new CA when every caBundle is emptied, and admissions work again', async () => {
      await scenario.admitted();
      const configuration = await scenario.configuration();
      const oldCa = firstCertificate(bundlePem(configuration))!.fingerprint256;
      await admission.replaceMutatingWebhookConfiguration({
        name: scenario.configurationName,
        body: {
          ...configuration,
          webhooks: configuration.webhooks!.map((w) => ({
            ...w,
            clientConfig: { ...w.clientConfig, caBundle: undefined },
          })),
        },
      });
      const newCa = await waitUntil(
        'a new CA in the caBundle',
        async () => {
          const first = firstCertificate(bundlePem(await scenario.configuration()));
          return first !== undefined && first.fingerprint256 !== oldCa ? first : undefined;
        },
        10_000,
      );
      const secretCa = await scenario.secretCertificate(`${scenario.configurationName}-ca`, 'ca.crt');
      expect(secretCa?.fingerprint256).toBe(newCa.fingerprint256);
      for (const index of [0, 1]) {
        expect(firstCertificate(bundlePem(await scenario.configuration(), index))?.fingerprint256).toBe(
          newCa.fingerprint256,
        );
      }
      const servedBy = await scenario.admitted(15_000);
      const leaf = await scenario.secretCertificate('kubemacpool-service', 'tls.crt');
      expect(leaf?.checkIssued(secretCa!)).toBe(true);
      expect(servedBy).toBe(leaf?.fingerprint256);
    });

    it('answers /healthz and /readyz over HTTPS and serves metrics on the metrics address', async () => {
      await scenario.admitted();
      const configuration = await scenario.configuration();
      const ca = bundlePem(configuration);
      const get = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port: scenario.manager.port, path, ca }, (res) => {
            let body = '';
            res.on('data', (chunk) => (body += String(chunk)));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
      expect(await get('/healthz')).toEqual({ status: 200, body: 'ok' });
      expect(await get('/readyz')).toEqual({ status: 200, body: 'ok' });
      const metricsPort = (scenario.manager.metricsApp.getHttpServer().address() as AddressInfo).port;
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toContain('kubemacpool_pool_size 65536');
      expect(metrics).toMatch(
        /kubemacpool_certificate_expiry_timestamp_seconds\{certificate="serving"\} \d+/,
      );
    });

    it('refuses TLS below 1.2', async () => {
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({
          host: '127.0.0.1',
          port: scenario.manager.port,
          minVersion: 'TLSv1.1',
          maxVersion: 'TLSv1.1',
          rejectUnauthorized: false,
        });
        socket.on('secureConnect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (error) => resolve(`refused: ${error.message}`));
      });
      expect(outcome).toMatch(/^refused/);
    });
  });
});
