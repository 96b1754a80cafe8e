import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync, readdirSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  KubeConfig,
  loadAllYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { REPO_ROOT, findBinary } from './binaries';
import { reap } from './children';
import { createControlPlanePki } from './pki';
import { freeLoopbackPort } from './ports';

/** Everything a test process needs to reach a running control plane; written to disk for jest workers. */
export interface ControlPlaneInfo {
  directory: string;
  kubeconfigPath: string;
  server: string;
  /** etcd's client URL (plain HTTP on loopback), for tests that act on the storage itself (compaction). */
  etcdUrl: string;
  /**
   * The API server's audit log (JSON lines, metadata only) of every request made by a ServiceAccount, so a test can
   * tell whether RBAC refused one (test/support/chart-identity.ts).
   */
  auditLogPath: string;
  caPem: string;
  adminToken: string;
  version: string;
  pids: number[];
}

export interface ControlPlaneOptions {
  /** Print component logs to this process's stderr too (KMP_CONTROL_PLANE_OUTPUT=1). */
  attachOutput?: boolean;
  /** Start kube-controller-manager for namespace deletion and garbage collection (when the binary exists). */
  controllerManager?: boolean;
  /** Directory of CRD manifests to install; default k8s/crds. */
  crdDirectory?: string;
}

const READY_TIMEOUT_MS = 90_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/**
 * etcd and kube-apiserver (and optionally kube-controller-manager) as child processes on loopback ports, with fresh
 * PKI and an admin token: a real API server for integration tests and the local run. Nothing is mocked.
 */
export class ControlPlane {
  private readonly children: ChildProcess[] = [];
  private watchdog: ChildProcess | undefined;
  private exitHandler: (() => void) | undefined;
  private stopping = false;

  private constructor(
    readonly directory: string,
    private readonly options: ControlPlaneOptions,
  ) {}

  info!: ControlPlaneInfo;

  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const directory = mkdtempSync(join(tmpdir(), 'kmp-control-plane-'));
    const plane = new ControlPlane(directory, options);
    try {
      await plane.boot();
      return plane;
    } catch (error) {
      await plane.stop();
      throw error;
    }
  }

  /** A KubeConfig for the admin user of a control plane described by `info`. */
  static kubeConfig(info: Pick<ControlPlaneInfo, 'kubeconfigPath'>): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfigPath);
    return kc;
  }

  private async boot(): Promise<void> {
    const pki = await createControlPlanePki();
    const file = (name: string, content: string) => {
      const path = join(this.directory, name);
      writeFileSync(path, content, { mode: 0o600 });
      return path;
    };
    const caPath = file('ca.crt', pki.ca.certificatePem);
    const servingCert = file('apiserver.crt', pki.apiserver.certificatePem);
    const servingKey = file('apiserver.key', pki.apiserver.privateKeyPem);
    const saKey = file('sa.key', pki.serviceAccountKey.privateKeyPem);
    const tokens = file('tokens.csv', `${pki.adminToken},admin,admin-uid,"system:masters"\n`);
    const auditPolicy = file(
      'audit-policy.yaml',
      JSON.stringify({
        apiVersion: 'audit.k8s.io/v1',
        kind: 'Policy',
        omitStages: ['RequestReceived'],
        rules: [{ level: 'Metadata', userGroups: ['system:serviceaccounts'] }, { level: 'None' }],
      }),
    );
    const auditLogPath = join(this.directory, 'audit.log');

    const [etcdClient, etcdPeer, apiserverPort] = [
      await freeLoopbackPort(),
      await freeLoopbackPort(),
      await freeLoopbackPort(),
    ];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    this.launch('etcd', findBinary('etcd'), [
      `--data-dir=${join(this.directory, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await this.waitFor('etcd', () => this.httpOk(`${etcdUrl}/health`));

    const server = `https://127.0.0.1:${apiserverPort}`;
    this.launch('kube-apiserver', findBinary('kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiserverPort}`,
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${servingCert}`,
      `--tls-private-key-file=${servingKey}`,
      `--client-ca-file=${caPath}`,
      `--token-auth-file=${tokens}`,
      '--authorization-mode=RBAC',
      `--audit-policy-file=${auditPolicy}`,
      `--audit-log-path=${auditLogPath}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${saKey}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--disable-admission-plugins=ServiceAccount',
      '--allow-privileged=true',
      `--cert-dir=${join(this.directory, 'apiserver-certs')}`,
      '--profiling=false',
      // No load balancer drains us: shut down at once on SIGTERM.
      '--shutdown-delay-duration=0s',
      '--v=1',
    ]);
    await this.waitFor('kube-apiserver', () =>
      this.httpOk(`${server}/readyz`, pki.ca.certificatePem, pki.adminToken),
    );

    const kubeconfigPath = file(
      'kubeconfig',
      JSON.stringify(
        {
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'kubemacpool-test',
              cluster: {
                server,
                'certificate-authority-data': Buffer.from(pki.ca.certificatePem).toString('base64'),
              },
            },
          ],
          users: [{ name: 'admin', user: { token: pki.adminToken } }],
          contexts: [{ name: 'kubemacpool-test', context: { cluster: 'kubemacpool-test', user: 'admin' } }],
          'current-context': 'kubemacpool-test',
        },
        null,
        2,
      ),
    );

    if (this.options.controllerManager ?? true) this.startControllerManager(kubeconfigPath);

    const version = JSON.parse(
      await this.httpGet(`${server}/version`, pki.ca.certificatePem, pki.adminToken),
    ) as {
      gitVersion: string;
    };
    this.info = {
      directory: this.directory,
      kubeconfigPath,
      server,
      etcdUrl,
      auditLogPath,
      caPem: pki.ca.certificatePem,
      adminToken: pki.adminToken,
      version: version.gitVersion,
      pids: this.children.map((child) => child.pid ?? 0),
    };
    this.guardAgainstCrashes();
    await this.installCrds(this.options.crdDirectory ?? join(REPO_ROOT, 'k8s', 'crds'));
  }

  private startControllerManager(kubeconfigPath: string): void {
    let binary: string;
    try {
      binary = findBinary('kube-controller-manager');
    } catch {
      process.stderr.write(
        'kube-controller-manager not built: namespaces will stay Terminating when deleted\n',
      );
      return;
    }
    this.launch('kube-controller-manager', binary, [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      '--controllers=namespace-controller,garbage-collector-controller',
      '--leader-elect=false',
      '--use-service-account-credentials=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--v=1',
    ]);
  }

  /** Installs every CRD manifest of `directory` and waits until each is Established. */
  async installCrds(directory: string): Promise<void> {
    const api = ControlPlane.kubeConfig(this.info).makeApiClient(ApiextensionsV1Api);
    const crds = readdirSync(directory)
      .filter((name) => name.endsWith('.yaml'))
      .flatMap(
        (name) => loadAllYaml(readFileSync(join(directory, name), 'utf8')) as V1CustomResourceDefinition[],
      );
    await Promise.all(crds.map((body) => api.createCustomResourceDefinition({ body })));
    for (const crd of crds) {
      await this.waitFor(`CRD ${crd.metadata?.name}`, async () => {
        const current = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
        return (
          current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false
        );
      });
    }
  }

  private launch(name: string, binary: string, args: string[]): void {
    const log = openSync(join(this.directory, `${name}.log`), 'a');
    // Own process group: a Ctrl-C in the terminal reaches only us, and we stop the components in order.
    const child = spawn(binary, args, {
      detached: true,
      stdio: [
        'ignore',
        this.options.attachOutput ? 'inherit' : log,
        this.options.attachOutput ? 'inherit' : log,
      ],
      env: { ...process.env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    });
    closeSync(log);
    child.on('exit', (code, signal) => {
      if (!this.stopping) {
        process.stderr.write(
          `${name} exited unexpectedly (code ${code}, signal ${signal}); log: ${this.logPath(name)}\n`,
        );
      }
    });
    this.children.push(child);
  }

  logPath(name: string): string {
    return join(this.directory, `${name}.log`);
  }

  private logTail(name: string): string {
    try {
      return readFileSync(this.logPath(name), 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private async waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (this.children.some((child) => child.exitCode !== null || child.signalCode !== null)) break;
      try {
        if (await check()) return;
      } catch (error) {
        lastError = error;
      }
      await sleep(250);
    }
    const logs = ['etcd', 'kube-apiserver']
      .map((name) => `--- ${name}.log (tail)\n${this.logTail(name)}`)
      .join('\n');
    throw new Error(`${what} did not become ready (${String(lastError ?? 'timed out')})\n${logs}`);
  }

  private httpGet(url: string, caPem?: string, token?: string): Promise<string> {
    if (url.startsWith('http:')) {
      return fetch(url).then((response) => response.text());
    }
    return new Promise((resolveBody, reject) => {
      const req = request(
        url,
        { ca: caPem, headers: token ? { Authorization: `Bearer ${token}` } : {} },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () =>
            res.statusCode === 200
              ? resolveBody(body)
              : reject(new Error(`${url}: HTTP ${res.statusCode} ${body}`)),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  private async httpOk(url: string, caPem?: string, token?: string): Promise<boolean> {
    if (url.startsWith('http:')) return (await fetch(url)).ok;
    await this.httpGet(url, caPem, token);
    return true;
  }

  /**
   * Children must not outlive us: an exit handler kills them on any normal exit, and a detached watchdog kills them
   * and removes the directory if this process dies without running handlers (SIGKILL, a crashed runner).
   */
  private guardAgainstCrashes(): void {
    this.exitHandler = () => {
      for (const child of this.children) child.kill('SIGKILL');
      rmSync(this.directory, { recursive: true, force: true });
    };
    process.on('exit', this.exitHandler);
    this.watchdog = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'test', 'support', 'watchdog.js'),
        String(process.pid),
        this.directory,
        ...this.info.pids.map(String),
      ],
      { detached: true, stdio: 'ignore' },
    );
    this.watchdog.unref();
  }

  /** Stops the components (SIGTERM, then SIGKILL after 3 s: the data is thrown away) and removes the directory. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const child of [...this.children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    await reap(this.watchdog);
    if (this.exitHandler) process.off('exit', this.exitHandler);
    rmSync(this.directory, { recursive: true, force: true });
  }
}
