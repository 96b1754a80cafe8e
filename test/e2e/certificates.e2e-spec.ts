import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
  type V1Secret,
  Watch,
} from '@kubernetes/client-node';
import { X509Certificate, randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { chartIdentity } from '../support/chart-identity';
import { adminKubeConfig, createTestNamespace } from '../support/cluster';
import { CertificateManagerService } from '../../src/modules/certificates/certificate-manager.service';
import { X509Repository } from '../../src/modules/certificates/x509.repository';
import { upstreamCa, upstreamServingCertificate } from '../fixtures/upstream-certificates';
import { freeLoopbackPort } from '../support/ports';
import { waitUntil } from '../support/webhook';
import {
  SERVED_BY_ANNOTATION,
  TEST_ALLOW_PATH,
  type TestManager,
  addTestAllowRoute,
  startTestManager,
} from '../support/manager';

const x509 = new X509Repository();

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
 * route of the manager's HTTPS server, and a webhook configuration of its own, created before the manager starts
 * as a deployment does (without a caBundle unless one is given). `prepare` runs before the manager starts.
 */
class Scenario {
  readonly configurationName = `kmp-test-${randomBytes(4).toString('hex')}`;
  managerNamespace = '';
  targetNamespace = '';
  manager!: TestManager;
  private releaseIdentity: () => Promise<void> = () => Promise.resolve();

  async start(
    env: Record<string, string>,
    options: { caBundle?: string; prepare?: () => Promise<void> } = {},
  ): Promise<void> {
    this.managerNamespace = await createTestNamespace('kmp-certs');
    const target = randomBytes(4).toString('hex');
    this.targetNamespace = await createTestNamespace('kmp-certs-target', {
      'kubemacpool.io/test-target': target,
    });
    const port = await freeLoopbackPort();
    const url = `https://127.0.0.1:${port}${TEST_ALLOW_PATH}`;
    const caBundle =
      options.caBundle === undefined ? undefined : Buffer.from(options.caBundle).toString('base64');
    const webhook = (name: string, resources: string[]) => ({
      name,
      clientConfig: { url, caBundle },
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
    await options.prepare?.();
    // The chart's ServiceAccount and RBAC: the Secrets by name in its namespace, its own webhook configuration.
    const identity = await chartIdentity(this.managerNamespace, this.configurationName);
    this.releaseIdentity = identity.release;
    this.manager = await startTestManager(
      {
        POD_NAMESPACE: this.managerNamespace,
        WEBHOOK_CONFIGURATION_NAME: this.configurationName,
        WEBHOOK_PORT: String(port),
        ...env,
      },
      addTestAllowRoute,
      [`--kubeconfig=${identity.kubeconfigPath}`],
    );
  }

  async stop(): Promise<void> {
    await admission
      .deleteMutatingWebhookConfiguration({ name: this.configurationName })
      .catch(() => undefined);
    await this.manager?.close();
    await this.releaseIdentity();
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

  /** The resourceVersion of the CA Secret and of the serving Secret: they change with every write. */
  async secretVersions(): Promise<{ ca?: string; serving?: string }> {
    const version = (name: string) =>
      core
        .readNamespacedSecret({ namespace: this.managerNamespace, name })
        .then((secret) => secret.metadata?.resourceVersion)
        .catch(() => undefined);
    return {
      ca: await version(`${this.configurationName}-ca`),
      serving: await version('kubemacpool-service'),
    };
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
      // A new CA every 12 s and a new serving certificate every 3 s, each renewed with 7 s or more to spare:
      // on a shared, loaded machine the manager may be starved for seconds, and a renewal that comes late lets a
      // certificate expire under the client, which is a failure the test must not provoke by itself.
      scenario.start({
        CA_ROTATE_INTERVAL: '24s',
        CA_OVERLAP_INTERVAL: '12s',
        CERT_ROTATE_INTERVAL: '10s',
        CERT_OVERLAP_INTERVAL: '7s',
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
      // Rotations are counted as they are observed, not timed: the CA the caBundle starts with and the certificate
      // that served each admission. The bound only catches a manager that stopped rotating.
      const caRotations = 2;
      const servingRotations = 4;
      const cas: string[] = [];
      const served: string[] = [];
      const failures: string[] = [];
      let requests = 0;
      let stop = false;
      const client = (async () => {
        while (!stop) {
          requests++;
          try {
            const fingerprint = await scenario.admit();
            if (!served.includes(fingerprint)) served.push(fingerprint);
          } catch (error) {
            failures.push(String(error).slice(0, 400));
          }
        }
      })();
      try {
        await waitUntil(
          `${caRotations} CA and ${servingRotations} serving-certificate rotations`,
          async () => {
            const first = firstCertificate(bundlePem(await scenario.configuration()));
            if (first !== undefined && !cas.includes(first.fingerprint256)) cas.push(first.fingerprint256);
            return cas.length > caRotations && served.length > servingRotations ? true : undefined;
          },
          150_000,
        );
      } finally {
        stop = true;
        await client;
      }
      expect(failures).toEqual([]);
      // Every serving certificate counted answered at least one admission, and no admission failed in between.
      expect(served.length).toBeGreaterThan(servingRotations);
      expect(requests).toBeGreaterThanOrEqual(served.length);
    }, 180_000);

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

  describe('switching from upstream, whose Secrets stay', () => {
    const scenario = new Scenario();
    let ca: { certificatePem: string; privateKeyPem: string };
    let upstreamLeaf: X509Certificate;
    /** resourceVersions the watch saw per Secret, from their creation by upstream on. */
    const versions = new Map<string, string[]>();
    let watch: { abort(): void } | undefined;

    beforeAll(async () => {
      const [caKey, leafKey] = await Promise.all([x509.generateRsaKeyPair(), x509.generateRsaKeyPair()]);
      const now = Date.now();
      ca = upstreamCa(caKey, {
        commonName: scenario.configurationName,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 365 * 24 * 3_600_000),
      });
      await scenario.start(
        { CA_PROPAGATION_DELAY: '1s' },
        {
          caBundle: ca.certificatePem,
          prepare: async () => {
            const namespace = scenario.managerNamespace;
            // Upstream's serving certificate has the Service's DNS names only: the manager here also requires
            // 127.0.0.1 (WEBHOOK_EXTRA_IP_ADDRESSES of the test manager), so it must be replaced.
            const leaf = upstreamServingCertificate(
              leafKey,
              ca,
              { name: 'kubemacpool-service', namespace },
              new Date(now + 182 * 24 * 3_600_000),
            );
            upstreamLeaf = new X509Certificate(leaf.certificatePem);
            const base64 = (text: string) => Buffer.from(text).toString('base64');
            const annotations = { 'kubevirt.io/kube-admission-webhook': '' };
            watch = await new Watch(kc).watch(
              `/api/v1/namespaces/${namespace}/secrets`,
              {},
              (_type, secret: V1Secret) => {
                const name = secret.metadata!.name!;
                const seen = versions.get(name) ?? [];
                if (!seen.includes(secret.metadata!.resourceVersion!))
                  seen.push(secret.metadata!.resourceVersion!);
                versions.set(name, seen);
              },
              () => undefined,
            );
            await core.createNamespacedSecret({
              namespace,
              body: {
                metadata: { name: `${scenario.configurationName}-ca`, annotations },
                type: 'Opaque',
                data: { 'ca.crt': base64(ca.certificatePem), 'ca.key': base64(ca.privateKeyPem) },
              },
            });
            await core.createNamespacedSecret({
              namespace,
              body: {
                metadata: { name: 'kubemacpool-service', annotations },
                type: 'kubernetes.io/tls',
                data: { 'tls.crt': base64(leaf.certificatePem), 'tls.key': base64(leaf.privateKeyPem) },
              },
            });
          },
        },
      );
    });
    afterAll(async () => {
      watch?.abort();
      await scenario.stop();
    });

    it("adopts upstream's CA, replaces its serving certificate in one step and then writes nothing", async () => {
      const upstreamCaCertificate = new X509Certificate(ca.certificatePem);
      const leaf = await waitUntil(
        'a serving certificate with 127.0.0.1, signed by the CA the caBundle starts with',
        async () => {
          const bundleCa = firstCertificate(bundlePem(await scenario.configuration()));
          const current = await scenario.secretCertificate('kubemacpool-service', 'tls.crt');
          return bundleCa !== undefined &&
            current?.subjectAltName?.includes('IP Address:127.0.0.1') === true &&
            current.checkIssued(bundleCa) &&
            current.verify(bundleCa.publicKey)
            ? current
            : undefined;
        },
        30_000,
      );
      expect(leaf.fingerprint256).not.toBe(upstreamLeaf.fingerprint256);
      for (const index of [0, 1])
        expect(firstCertificate(bundlePem(await scenario.configuration(), index))?.fingerprint256).toBe(
          upstreamCaCertificate.fingerprint256,
        );
      const secretCa = await core.readNamespacedSecret({
        namespace: scenario.managerNamespace,
        name: `${scenario.configurationName}-ca`,
      });
      expect(Buffer.from(secretCa.data!['ca.crt'], 'base64').toString()).toBe(ca.certificatePem);
      expect(Buffer.from(secretCa.data!['ca.key'], 'base64').toString()).toBe(ca.privateKeyPem);
      expect(await scenario.admitted()).toBe(leaf.fingerprint256);

      // Settled: further reconcile passes, each awaited, write neither Secret.
      const settled = await scenario.secretVersions();
      const manager = scenario.manager.app.get(CertificateManagerService);
      for (let pass = 0; pass < 5; pass++) await manager.trigger();
      expect(await scenario.secretVersions()).toEqual(settled);
      // Every write the watch saw: upstream's creation, the CA's publication time, one new serving certificate.
      await waitUntil('the watch to catch up', async () =>
        versions.get(`${scenario.configurationName}-ca`)?.at(-1) === settled.ca &&
        versions.get('kubemacpool-service')?.at(-1) === settled.serving
          ? true
          : undefined,
      );
      expect(versions.get(`${scenario.configurationName}-ca`)).toHaveLength(2);
      expect(versions.get('kubemacpool-service')).toHaveLength(2);
    });
  });

  describe('a CA Secret of the wrong type', () => {
    const scenario = new Scenario();
    beforeAll(async () => {
      const key = await x509.generateRsaKeyPair();
      const now = Date.now();
      const ca = upstreamCa(key, {
        commonName: scenario.configurationName,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 24 * 3_600_000),
      });
      await scenario.start(
        { CA_PROPAGATION_DELAY: '1s' },
        {
          prepare: async () => {
            // The layout of a serving Secret where the CA's belongs: no ca.crt to read, and a type that cannot
            // be changed in place.
            await core.createNamespacedSecret({
              namespace: scenario.managerNamespace,
              body: {
                metadata: { name: `${scenario.configurationName}-ca` },
                type: 'kubernetes.io/tls',
                data: {
                  'tls.crt': Buffer.from(ca.certificatePem).toString('base64'),
                  'tls.key': Buffer.from(ca.privateKeyPem).toString('base64'),
                },
              },
            });
          },
        },
      );
    });
    afterAll(() => scenario.stop());

    it('is replaced by an Opaque CA Secret, and admissions work', async () => {
      const secret = await waitUntil(
        'an Opaque CA Secret',
        async () => {
          const current = await core.readNamespacedSecret({
            namespace: scenario.managerNamespace,
            name: `${scenario.configurationName}-ca`,
          });
          return current.type === 'Opaque' ? current : undefined;
        },
        20_000,
      );
      expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key']);
      const servedBy = await scenario.admitted();
      const caCertificate = await scenario.secretCertificate(`${scenario.configurationName}-ca`, 'ca.crt');
      const leaf = await scenario.secretCertificate('kubemacpool-service', 'tls.crt');
      expect(leaf?.checkIssued(caCertificate!)).toBe(true);
      expect(servedBy).toBe(leaf?.fingerprint256);
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

    it('re-injects the same CA when every caBundle is emptied, and leaves both Secrets alone', async () => {
      const servedBefore = await scenario.admitted();
      const configuration = await scenario.configuration();
      const ca = firstCertificate(bundlePem(configuration))!.fingerprint256;
      const secretsBefore = await scenario.secretVersions();
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
      const healed = await waitUntil(
        'a CA back in every caBundle',
        async () => {
          const current = await scenario.configuration();
          return [0, 1].every((index) => firstCertificate(bundlePem(current, index)) !== undefined)
            ? current
            : undefined;
        },
        10_000,
      );
      for (const index of [0, 1]) expect(firstCertificate(bundlePem(healed, index))?.fingerprint256).toBe(ca);
      expect(await scenario.secretVersions()).toEqual(secretsBefore);
      expect(await scenario.admitted(15_000)).toBe(servedBefore);
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
      const metricsPort = (scenario.manager.metricsApp!.getHttpServer().address() as AddressInfo).port;
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toContain('kubemacpool_pool_size 65536');
      expect(metrics).toMatch(
        /kubemacpool_certificate_not_after_timestamp_seconds\{certificate="serving"\} \d+/,
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
