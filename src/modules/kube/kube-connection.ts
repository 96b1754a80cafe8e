import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { homedir } from 'node:os';
import { delimiter } from 'node:path';
import { type KubeConfig } from '@kubernetes/client-node';
import { type ClusterInfo, type ConnectionPlan, type ConnectionSettings, planConnection } from './kubeconfig';

/** A bound service account token is rotated by the kubelet; client-go and client-node re-read it every minute. */
const TOKEN_REREAD_MS = 60_000;

/**
 * What kube-http needs of a client, in client-node's KubeConfig terms: the current cluster's server, and the agent
 * and headers (credentials) of a request. KubeConnection provides both; so does a client-node KubeConfig, which tests
 * and benchmarks pass directly.
 */
export interface KubeClient {
  getCurrentCluster(): { server: string } | null;
  applyToFetchOptions(options: object): Promise<{ agent?: unknown; headers?: unknown }>;
}

/** The agent and headers of one request. */
export interface RequestCredentials {
  agent: HttpAgent;
  headers: Record<string, string>;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Headers as client-node hands them back (a fetch Headers object) or as a plain record, as a plain record. */
function plainHeaders(headers: unknown): Record<string, string> {
  const plain: Record<string, string> = {};
  if (headers === undefined || headers === null) return plain;
  if (typeof (headers as Headers).forEach === 'function') {
    (headers as Headers).forEach((value, key) => (plain[key] = value));
    return plain;
  }
  for (const [key, value] of Object.entries(headers as Record<string, unknown>))
    plain[key] = Array.isArray(value) ? value.join(', ') : String(value);
  return plain;
}

/**
 * The manager's connection to the API server. For the in-cluster service account and kubeconfigs with certificates,
 * tokens or token files, it is the manager's own: one keep-alive agent with the CA and client certificate, and the
 * token (re-read as it rotates). For what it does not implement (exec credential plugins, auth providers, proxies,
 * merged kubeconfigs), client-node's KubeConfig is loaded on demand and supplies agent and headers. Either way,
 * requests go through kube-http; `path` and `reason` say which was taken.
 */
export class KubeConnection implements KubeClient {
  private constructor(
    /** 'direct': the manager's own loader; 'client-node': client-node's KubeConfig (the fallback). */
    readonly path: 'direct' | 'client-node',
    /** Where the configuration came from and, for the fallback, why. */
    readonly origin: string,
    readonly reason: string | undefined,
    private readonly cluster: ClusterInfo,
    private readonly credentials: () => Promise<RequestCredentials>,
  ) {}

  /**
   * client-node's loadFromDefault order ($KUBECONFIG, ~/.kube/config, the in-cluster service account): with the
   * manager's own loader when it can, with client-node's KubeConfig, imported only then, when it cannot.
   */
  static async fromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<KubeConnection> {
    const plan: ConnectionPlan = planConnection({
      env,
      homeDirectory: env.HOME ?? homedir(),
      readFile: readIfExists,
    });
    if (plan.kind === 'direct') return KubeConnection.fromSettings(plan.settings);
    // The files the plan names ($KUBECONFIG's, merged as client-node's loadFromDefault merges them), read from the
    // `env` given rather than from process.env.
    const { KubeConfig } = await import('@kubernetes/client-node');
    const [first, ...others] = plan.origin.split(delimiter);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(first);
    for (const file of others) {
      const other = new KubeConfig();
      other.loadFromFile(file);
      kubeConfig.mergeConfig(other);
    }
    return KubeConnection.fromKubeConfig(kubeConfig, plan.reason, plan.origin);
  }

  /** The manager's own connection; reads the CA, certificate and key files now, the token file as it rotates. */
  static fromSettings(
    settings: ConnectionSettings,
    readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
    now: () => number = Date.now,
  ): KubeConnection {
    const file = (data: string | undefined, path: string | undefined) =>
      data ?? (path === undefined ? undefined : readFile(path));
    const tls = {
      ca: file(settings.caData, settings.caFile),
      cert: file(settings.certData, settings.certFile),
      key: file(settings.keyData, settings.keyFile),
      rejectUnauthorized: !settings.cluster.skipTLSVerify,
      servername: settings.tlsServerName,
    };
    const secure = new URL(settings.cluster.server).protocol === 'https:';
    const agent = secure ? new HttpsAgent({ keepAlive: true, ...tls }) : new HttpAgent({ keepAlive: true });
    const headers: Record<string, string> = {};
    if (settings.username !== undefined)
      headers.authorization = `Basic ${Buffer.from(`${settings.username}:${settings.password ?? ''}`).toString('base64')}`;
    let token = settings.token;
    let tokenReadAt = -Infinity;
    const currentToken = (): string | undefined => {
      if (settings.token !== undefined || settings.tokenFile === undefined) return token;
      if (now() - tokenReadAt >= TOKEN_REREAD_MS) {
        try {
          token = readFile(settings.tokenFile).trim();
          tokenReadAt = now();
        } catch (error) {
          // A token read before stays in use until the file is back; without one, the request cannot be made.
          if (token === undefined)
            throw new Error(`cannot read the token file ${settings.tokenFile}: ${(error as Error).message}`, {
              cause: error,
            });
        }
      }
      return token;
    };
    currentToken();
    return new KubeConnection('direct', settings.origin, undefined, settings.cluster, () => {
      const bearer = currentToken();
      return Promise.resolve({
        agent,
        headers: bearer === undefined ? { ...headers } : { ...headers, authorization: `Bearer ${bearer}` },
      });
    });
  }

  /** A connection whose agent and headers client-node's KubeConfig supplies (exec plugins, auth providers, …). */
  static fromKubeConfig(
    kubeConfig: KubeConfig,
    reason: string,
    origin = 'client-node KubeConfig',
  ): KubeConnection {
    const cluster = kubeConfig.getCurrentCluster();
    return new KubeConnection(
      'client-node',
      origin,
      reason,
      {
        name: cluster?.name ?? '',
        server: cluster?.server ?? '',
        skipTLSVerify: cluster?.skipTLSVerify ?? false,
      },
      () => requestCredentials(kubeConfig),
    );
  }

  getCurrentCluster(): ClusterInfo {
    return this.cluster;
  }

  /** The agent and headers of a request (client-node's method name, so a KubeConfig and this are interchangeable). */
  applyToFetchOptions(): Promise<RequestCredentials> {
    return this.credentials();
  }

  /** For the start-up log line. */
  describe(): Record<string, string> {
    return {
      client: this.path,
      server: this.cluster.server,
      origin: this.origin,
      ...(this.reason === undefined ? {} : { fallbackReason: this.reason }),
    };
  }
}

/** The agent and headers of any KubeClient, as plain values. */
export async function requestCredentials(client: KubeClient): Promise<RequestCredentials> {
  if (client instanceof KubeConnection) return client.applyToFetchOptions();
  const init = await client.applyToFetchOptions({});
  const server = client.getCurrentCluster()?.server ?? '';
  const agent =
    (init.agent as HttpAgent | undefined) ??
    (server.startsWith('https:') ? new HttpsAgent() : new HttpAgent());
  return { agent, headers: plainHeaders(init.headers) };
}
