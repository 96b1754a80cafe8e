import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { type OptMode, buildWebhookConfiguration } from '../../src/common/webhook-configuration';
import { PoolService } from '../../src/modules/pool/pool.service';
import { ServingCertificateService } from '../../src/modules/certificates/serving-certificate.service';
import { chartIdentity } from './chart-identity';
import { adminKubeConfig, createTestNamespace } from './cluster';
import { type TestManager, startTestManager } from './manager';

export const VM_API = { group: 'kubevirt.io', version: 'v1', plural: 'virtualmachines' } as const;
/** Label that confines a test's webhook configuration to that test's namespaces. */
const SCOPE_LABEL = 'kubemacpool.io/test-scope';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until it returns a value other than undefined (errors count as not yet). */
export async function waitUntil<T>(
  what: string,
  read: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await read();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(
    `timed out waiting for ${what}${last === undefined ? '' : `: ${String(last).slice(0, 500)}`}`,
  );
}

/** The message of an API error (the apiserver's Status message), for assertions. */
export function apiErrorMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  try {
    return (JSON.parse(String(body)) as { message: string }).message;
  } catch {
    return String(error);
  }
}

/**
 * The manager running in this process with the real webhook configuration (built by buildWebhookConfiguration,
 * pointed at the manager with a loopback url), confined to the namespaces this environment creates, authenticated
 * as the Helm chart's ServiceAccount with the chart's RBAC (test/support/chart-identity.ts).
 */
export class WebhookEnvironment {
  readonly kc = adminKubeConfig();
  readonly core = this.kc.makeApiClient(CoreV1Api);
  readonly custom = this.kc.makeApiClient(CustomObjectsApi);
  readonly admission = this.kc.makeApiClient(AdmissionregistrationV1Api);
  readonly configurationName = `kmp-test-${randomBytes(4).toString('hex')}`;
  readonly scope = randomBytes(4).toString('hex');
  manager!: TestManager;
  managerNamespace = '';
  private releaseIdentity: () => Promise<void> = () => Promise.resolve();
  /** The address the API server calls the webhook at; `[::1]` to prove the server is reachable over IPv6. */
  webhookHost = '127.0.0.1';

  async start(
    env: Record<string, string> = {},
    modes: { pods: OptMode; vms: OptMode } = { pods: 'opt-out', vms: 'opt-out' },
  ) {
    this.managerNamespace = await createTestNamespace('kmp-manager');
    // The manager authenticates as the chart's ServiceAccount, with the chart's RBAC: what it needs is proven here.
    const identity = await chartIdentity(this.managerNamespace, this.configurationName);
    this.releaseIdentity = identity.release;
    this.manager = await startTestManager(
      {
        POD_NAMESPACE: this.managerNamespace,
        WEBHOOK_CONFIGURATION_NAME: this.configurationName,
        CA_PROPAGATION_DELAY: '1s',
        ...env,
      },
      undefined,
      [`--kubeconfig=${identity.kubeconfigPath}`],
    );
    await this.admission.createMutatingWebhookConfiguration({ body: this.configuration(modes) });
    await this.waitForCaBundle();
  }

  configuration(modes: { pods: OptMode; vms: OptMode }): V1MutatingWebhookConfiguration {
    return buildWebhookConfiguration({
      name: this.configurationName,
      podsMode: modes.pods,
      virtualMachinesMode: modes.vms,
      clientConfig: { url: `https://${this.webhookHost}:${this.manager.port}` },
      timeoutSeconds: 5,
      extraNamespaceSelectorExpressions: [{ key: SCOPE_LABEL, operator: 'In', values: [this.scope] }],
    });
  }

  /** Switches opt modes in the live configuration, keeping the injected caBundles. */
  async setModes(modes: { pods: OptMode; vms: OptMode }): Promise<void> {
    const live = await this.admission.readMutatingWebhookConfiguration({ name: this.configurationName });
    const wanted = this.configuration(modes);
    live.webhooks = live.webhooks!.map((webhook, i) => ({
      ...webhook,
      namespaceSelector: wanted.webhooks![i].namespaceSelector,
    }));
    await this.admission.replaceMutatingWebhookConfiguration({ name: this.configurationName, body: live });
  }

  private async waitForCaBundle(): Promise<void> {
    // Ready as /readyz means it: the CA injected, the certificate served, and the pool rebuilt (before that every
    // admission is refused as not ready, which a test's first create must not meet).
    await waitUntil('the caBundle to be injected, the certificate served and the pool rebuilt', async () => {
      const live = await this.admission.readMutatingWebhookConfiguration({ name: this.configurationName });
      const injected = live.webhooks?.every((w) => (w.clientConfig.caBundle ?? '') !== '');
      const served = this.manager.app.get(ServingCertificateService).fingerprint;
      const rebuilt = this.manager.app.get(PoolService).ready;
      return injected && served !== undefined && rebuilt ? true : undefined;
    });
  }

  /** A namespace in this environment's scope, with more labels (opt-mode, run-level). */
  namespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
    return createTestNamespace(prefix, { [SCOPE_LABEL]: this.scope, ...labels });
  }

  async stop(): Promise<void> {
    await this.admission
      .deleteMutatingWebhookConfiguration({ name: this.configurationName })
      .catch(() => undefined);
    await this.manager?.close().catch(() => undefined);
    await this.releaseIdentity();
  }
}

/** Runs `work` over `items` with `concurrency` requests in flight. */
export async function inParallel<T, R>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    }),
  );
  return results;
}
