import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { isIPv6 } from 'node:net';
import { UnsupportedYamlError, parseKubeconfigYaml } from './kubeconfig-yaml';

/** The service account files every Pod gets (client-go's and client-node's paths). */
export const SERVICE_ACCOUNT_DIRECTORY = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The cluster a connection talks to, in client-node's Cluster shape (kube-http reads `server`). */
export interface ClusterInfo {
  name: string;
  server: string;
  skipTLSVerify: boolean;
}

/**
 * Everything a request to the API server needs, as the manager's own client reads it. Files are named, not read:
 * the token file is re-read as it rotates; the others are read once, when the connection is made.
 */
export interface ConnectionSettings {
  /** 'in-cluster' (service account) or 'kubeconfig'. */
  source: 'in-cluster' | 'kubeconfig';
  /** The kubeconfig path or the service account directory, for the log line. */
  origin: string;
  cluster: ClusterInfo;
  /** `user` of the current context (in-cluster: inClusterUser). */
  user: string;
  caData?: string;
  caFile?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  tlsServerName?: string;
}

/**
 * What the environment asks for: settings the manager's client handles itself, or a reason to hand the kubeconfig
 * to client-node (exec credential plugins, auth providers, proxies, several merged files, YAML beyond the subset).
 */
export type ConnectionPlan =
  | { kind: 'direct'; settings: ConnectionSettings }
  /** `origin`: the kubeconfig file, or $KUBECONFIG's files joined by the path delimiter. */
  | { kind: 'fallback'; reason: string; origin: string };

/** The file system and environment the loader reads, injectable so the parsing is tested without a cluster. */
export interface LoaderInput {
  env: NodeJS.ProcessEnv;
  homeDirectory: string | undefined;
  /** The file's text, or undefined when it does not exist. */
  readFile: (path: string) => string | undefined;
  serviceAccountDirectory?: string;
}

class FallbackNeeded extends Error {}

function fallback(reason: string): never {
  throw new FallbackNeeded(reason);
}

/**
 * client-node's loadFromDefault order: $KUBECONFIG, else ~/.kube/config when it exists, else the in-cluster service
 * account when its token file exists, else http://localhost:8080 without credentials.
 */
export function planConnection(input: LoaderInput): ConnectionPlan {
  const files = (input.env.KUBECONFIG ?? '').split(delimiter).filter((file) => file !== '');
  if (files.length > 1)
    return {
      kind: 'fallback',
      reason: 'KUBECONFIG names several files to merge',
      origin: files.join(delimiter),
    };
  const candidates =
    files.length === 1
      ? files
      : input.homeDirectory === undefined
        ? []
        : [join(input.homeDirectory, '.kube', 'config')];
  for (const path of candidates) {
    const text = input.readFile(path);
    if (text === undefined) {
      // client-node throws for a KUBECONFIG that does not exist; its error message is the one to show.
      if (files.length === 1) return { kind: 'fallback', reason: 'KUBECONFIG does not exist', origin: path };
      continue;
    }
    try {
      return { kind: 'direct', settings: fromKubeconfig(path, text) };
    } catch (error) {
      // What this reader does not understand, client-node may: it loads the file, or fails with its own message.
      const reason =
        error instanceof FallbackNeeded || error instanceof UnsupportedYamlError
          ? error.message
          : `cannot read it: ${error instanceof Error ? error.message : String(error)}`;
      return { kind: 'fallback', reason, origin: path };
    }
  }
  const directory = input.serviceAccountDirectory ?? SERVICE_ACCOUNT_DIRECTORY;
  if (input.readFile(join(directory, 'token')) !== undefined) {
    return { kind: 'direct', settings: inCluster(input.env, directory) };
  }
  return {
    kind: 'direct',
    settings: {
      source: 'kubeconfig',
      origin: '(none: the default http://localhost:8080)',
      cluster: { name: 'cluster', server: 'http://localhost:8080', skipTLSVerify: false },
      user: 'user',
    },
  };
}

/** client-node's loadFromCluster: KUBERNETES_SERVICE_HOST/PORT, the service account CA and rotating token. */
export function inCluster(env: NodeJS.ProcessEnv, directory = SERVICE_ACCOUNT_DIRECTORY): ConnectionSettings {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  const port = env.KUBERNETES_SERVICE_PORT ?? '';
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const serverHost = isIPv6(host) ? `[${host}]` : host;
  return {
    source: 'in-cluster',
    origin: directory,
    cluster: { name: 'inCluster', server: `${scheme}://${serverHost}:${port}`, skipTLSVerify: false },
    user: 'inClusterUser',
    caFile: join(directory, 'ca.crt'),
    tokenFile: join(directory, 'token'),
  };
}

type Named = { name?: unknown } & Record<string, unknown>;

function record(value: unknown, what: string): Record<string, unknown> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} is not a mapping`);
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new Error(`${what} is not a string: ${JSON.stringify(value)}`);
  return value;
}

function entry(
  config: Record<string, unknown>,
  list: string,
  field: string,
  name: string,
): Record<string, unknown> {
  const items = config[list] ?? [];
  if (!Array.isArray(items)) throw new Error(`${list} is not a list`);
  const found = (items as Named[]).find((item) => record(item, list).name === name);
  if (found === undefined) throw new Error(`no ${field} named ${JSON.stringify(name)} in ${list}`);
  return record(found[field], `${list}[${name}].${field}`);
}

/** Reads one kubeconfig file (JSON or the YAML subset kubeconfig writers use); paths are relative to its directory. */
export function fromKubeconfig(path: string, text: string): ConnectionSettings {
  const config = record(
    text.trimStart().startsWith('{') ? JSON.parse(text) : parseKubeconfigYaml(text),
    path,
  );
  const relative = (file: string | undefined) =>
    file === undefined || isAbsolute(file) ? file : join(dirname(path), file);
  const contextName = optionalString(config['current-context'], 'current-context');
  if (contextName === undefined) throw new Error(`${path}: no current-context`);
  const context = entry(config, 'contexts', 'context', contextName);
  const clusterName = optionalString(context.cluster, `context ${contextName}: cluster`);
  if (clusterName === undefined) throw new Error(`${path}: context ${contextName} names no cluster`);
  const cluster = entry(config, 'clusters', 'cluster', clusterName);
  const userName = optionalString(context.user, `context ${contextName}: user`) ?? '';
  const user = userName === '' ? {} : entry(config, 'users', 'user', userName);

  if (cluster['proxy-url'] !== undefined) fallback(`cluster ${clusterName} uses proxy-url`);
  if (user.exec !== undefined && user.exec !== null)
    fallback(`user ${userName} uses an exec credential plugin`);
  if (user['auth-provider'] !== undefined && user['auth-provider'] !== null)
    fallback(`user ${userName} uses an auth-provider`);
  const known = new Set([
    'client-certificate',
    'client-certificate-data',
    'client-key',
    'client-key-data',
    'token',
    'tokenFile',
    'username',
    'password',
  ]);
  const unknown = Object.keys(user).filter((key) => !known.has(key) && user[key] !== null);
  if (unknown.length > 0) fallback(`user ${userName} sets ${unknown.join(', ')}`);

  const server = optionalString(cluster.server, `cluster ${clusterName}: server`);
  if (server === undefined) throw new Error(`${path}: cluster ${clusterName} has no server`);
  const decode = (data: unknown, what: string) => {
    const value = optionalString(data, what);
    return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
  };
  return {
    source: 'kubeconfig',
    origin: path,
    cluster: {
      name: clusterName,
      server,
      skipTLSVerify:
        cluster['insecure-skip-tls-verify'] === true || cluster['insecure-skip-tls-verify'] === 'true',
    },
    user: userName,
    caData: decode(cluster['certificate-authority-data'], 'certificate-authority-data'),
    caFile: relative(optionalString(cluster['certificate-authority'], 'certificate-authority')),
    certData: decode(user['client-certificate-data'], 'client-certificate-data'),
    certFile: relative(optionalString(user['client-certificate'], 'client-certificate')),
    keyData: decode(user['client-key-data'], 'client-key-data'),
    keyFile: relative(optionalString(user['client-key'], 'client-key')),
    token: optionalString(user.token, 'token'),
    tokenFile: relative(optionalString(user.tokenFile, 'tokenFile')),
    username: optionalString(user.username, 'username'),
    password: optionalString(user.password, 'password'),
    tlsServerName: optionalString(cluster['tls-server-name'], 'tls-server-name'),
  };
}
