import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './binaries';
import { reap } from './children';
import { writeRuleFile } from './monitoring-manifests';
import { freeLoopbackPort } from './ports';

/** Debian's binaries (packages `prometheus` and `prometheus-alertmanager`); PROMETHEUS / ALERTMANAGER override. */
export const PROMETHEUS_BINARY = process.env.PROMETHEUS ?? 'prometheus';
export const ALERTMANAGER_BINARY = process.env.ALERTMANAGER ?? 'prometheus-alertmanager';

/**
 * The job name the ServiceMonitor in k8s/monitoring gives the manager's targets (Prometheus names it after the
 * Service). The shipped rules and dashboard select it, so the harness scrapes under the same name.
 */
export const KUBEMACPOOL_JOB = 'kubemacpool-metrics-service';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The fields of a ServiceMonitor endpoint (monitoring.coreos.com/v1) the chart sets. */
export interface ServiceMonitorEndpoint {
  scheme?: 'http' | 'https';
  bearerTokenFile?: string;
  tlsConfig?: {
    insecureSkipVerify?: boolean;
    serverName?: string;
    ca?: { secret?: { name: string; key: string } };
  };
}

/**
 * How Prometheus reaches guarded targets: a ServiceMonitor endpoint as the chart renders it, translated as the
 * Prometheus Operator translates it, with what the cluster would provide: the file behind `bearerTokenFile`
 * (Prometheus's own ServiceAccount token) and the PEM the `tlsConfig.ca` Secret key holds.
 */
export interface GuardedScrape {
  endpoint: ServiceMonitorEndpoint;
  tokenFile: string;
  caPem?: string;
}

/** The scrape_config fields of `scrape` (Prometheus 2.26+ names: authorization, tls_config). */
function scrapeSettings(scrape: GuardedScrape, directory: string): Record<string, unknown> {
  const { endpoint } = scrape;
  const settings: Record<string, unknown> = { scheme: endpoint.scheme ?? 'http' };
  if (endpoint.bearerTokenFile !== undefined)
    settings.authorization = { type: 'Bearer', credentials_file: scrape.tokenFile };
  const tls = endpoint.tlsConfig;
  if (tls !== undefined) {
    const config: Record<string, unknown> = {};
    if (tls.insecureSkipVerify === true) config.insecure_skip_verify = true;
    if (tls.serverName !== undefined) config.server_name = tls.serverName;
    if (tls.ca?.secret !== undefined) {
      if (scrape.caPem === undefined)
        throw new Error(`tlsConfig.ca names Secret ${tls.ca.secret.name}: pass its PEM`);
      config.ca_file = join(directory, 'scrape-ca.crt');
      writeFileSync(config.ca_file as string, scrape.caPem);
    }
    settings.tls_config = config;
  }
  return settings;
}

/** The last lines of a log, for error messages. */
function tail(path: string, lines = 20): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * A Prometheus-family server as a child process on a loopback port, in its own process group, killed on exit of
 * this process and by test/support/watchdog.js if this process is killed (ManagerProcess's pattern); the watchdog
 * then also removes `directory`, where its data and log live.
 */
class LoopbackDaemon {
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private readonly exitHandler = () => this.child?.kill('SIGKILL');

  constructor(
    readonly name: string,
    private readonly binary: string,
    readonly port: number,
    private readonly directory: string,
  ) {}

  get logPath(): string {
    return join(this.directory, `${this.name}.log`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts it and resolves once `/-/ready` answers 200; a binary that is not installed says how to install it. */
  async start(args: string[], packageName: string, timeoutMs = 30_000): Promise<void> {
    const log = openSync(this.logPath, 'a');
    const child = spawn(this.binary, args, {
      detached: true,
      // One core is plenty for a few series, and leaves the other to the tests on this 2-core machine.
      env: { ...process.env, GOMAXPROCS: '1' },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.child = child;
    const spawned = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawned !== undefined) {
      throw new Error(
        spawned.code === 'ENOENT'
          ? `${this.binary} not found: install the Debian package '${packageName}' (apt-get install ${packageName})`
          : `cannot start ${this.binary}: ${spawned.message}`,
      );
    }
    this.guard(child);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `${this.name} exited (${child.exitCode ?? child.signalCode}):\n${tail(this.logPath)}`,
        );
      }
      const status = await fetch(`${this.url}/-/ready`)
        .then((response) => response.status)
        .catch(() => 0);
      if (status === 200) return;
      await sleep(100);
    }
    await this.stop();
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms:\n${tail(this.logPath)}`);
  }

  private guard(child: ChildProcess): void {
    process.on('exit', this.exitHandler);
    this.watchdog = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'test', 'support', 'watchdog.js'),
        String(process.pid),
        this.directory,
        String(child.pid),
      ],
      { detached: true, stdio: 'ignore' },
    );
    this.watchdog.unref();
    child.once('exit', () => process.off('exit', this.exitHandler));
  }

  log(): string {
    return tail(this.logPath);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await reap(this.watchdog);
  }
}

/** One alert of an Alertmanager webhook notification (payload version 4). */
export interface NotifiedAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  fingerprint: string;
}

interface Notification {
  version: string;
  status: string;
  receiver: string;
  alerts: NotifiedAlert[];
}

/** The Alertmanager webhook receiver: a tiny HTTP server in the test process that records every notification. */
export class AlertReceiver {
  private constructor(
    private readonly server: Server,
    readonly notifications: Notification[],
  ) {}

  static async start(): Promise<AlertReceiver> {
    const notifications: Notification[] = [];
    const server = createServer((request: IncomingMessage, response: ServerResponse) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        try {
          notifications.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Notification);
          response.writeHead(200).end();
        } catch {
          response.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new AlertReceiver(server, notifications);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** Every alert delivered so far, oldest first. */
  alerts(): NotifiedAlert[] {
    return this.notifications.flatMap((notification) => notification.alerts);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export interface WaitForAlertOptions {
  /** Only the resolution of this firing alert (same fingerprint and start) counts. */
  after?: NotifiedAlert;
  /** Only alerts that started firing at or after this time count (ignores earlier episodes of the same alert). */
  since?: Date;
  timeoutMs?: number;
}

/**
 * A real Prometheus scraping the given targets every second under KUBEMACPOOL_JOB and evaluating the shipped rule
 * groups (k8s/monitoring/prometheus-rule.yaml, `for:` kept) every second, and a real Alertmanager delivering to an
 * AlertReceiver in this process with resolve notifications on. Everything listens on loopback and lives in one
 * temporary directory, removed by stop().
 */
export class MonitoringStack {
  private constructor(
    readonly directory: string,
    readonly prometheus: LoopbackDaemon,
    readonly alertmanager: LoopbackDaemon,
    readonly receiver: AlertReceiver,
  ) {}

  /**
   * `targets`: `host:port` of each manager's metrics endpoint: plain HTTP, or as `guarded` says (the chart's
   * ServiceMonitor endpoint).
   */
  static async start(targets: string[], guarded?: GuardedScrape): Promise<MonitoringStack> {
    const directory = mkdtempSync(join(tmpdir(), 'kmp-monitoring-'));
    const receiver = await AlertReceiver.start();
    const alertmanager = new LoopbackDaemon(
      'alertmanager',
      ALERTMANAGER_BINARY,
      await freeLoopbackPort(),
      directory,
    );
    const prometheus = new LoopbackDaemon(
      'prometheus',
      PROMETHEUS_BINARY,
      await freeLoopbackPort(),
      directory,
    );
    const stack = new MonitoringStack(directory, prometheus, alertmanager, receiver);
    try {
      await stack.startAlertmanager();
      await stack.startPrometheus(targets, guarded);
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  private async startAlertmanager(): Promise<void> {
    const config = join(this.directory, 'alertmanager.yml');
    // JSON is YAML. Short group timers so a test sees a notification within seconds of the state change.
    writeFileSync(
      config,
      JSON.stringify({
        route: {
          receiver: 'test',
          group_by: ['alertname'],
          group_wait: '1s',
          group_interval: '1s',
          repeat_interval: '1h',
        },
        receivers: [{ name: 'test', webhook_configs: [{ url: this.receiver.url, send_resolved: true }] }],
      }),
    );
    await this.alertmanager.start(
      [
        `--config.file=${config}`,
        `--storage.path=${join(this.directory, 'alertmanager-data')}`,
        `--web.listen-address=127.0.0.1:${this.alertmanager.port}`,
        // No gossip: an empty address turns clustering off (it would listen on 0.0.0.0:9094).
        '--cluster.listen-address=',
        '--log.level=debug',
      ],
      'prometheus-alertmanager',
    );
  }

  private async startPrometheus(targets: string[], guarded: GuardedScrape | undefined): Promise<void> {
    const rules = writeRuleFile(join(this.directory, 'rules.yml'));
    const config = join(this.directory, 'prometheus.yml');
    writeFileSync(
      config,
      JSON.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: [rules],
        alerting: {
          alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${this.alertmanager.port}`] }] }],
        },
        scrape_configs: [
          {
            job_name: KUBEMACPOOL_JOB,
            static_configs: [{ targets }],
            ...(guarded === undefined ? {} : scrapeSettings(guarded, this.directory)),
          },
        ],
      }),
    );
    await this.prometheus.start(
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(this.directory, 'prometheus-data')}`,
        '--storage.tsdb.retention.time=1h',
        `--web.listen-address=127.0.0.1:${this.prometheus.port}`,
        // Resend firing alerts every second, as often as they are evaluated (the default is a minute).
        '--rules.alert.resend-delay=1s',
      ],
      'prometheus',
    );
  }

  /** An instant query; throws with Prometheus' error for a bad expression. */
  async query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const response = await fetch(`${this.prometheus.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: unknown };
    };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error ?? response.status}`);
    if (body.data?.resultType === 'scalar') {
      return [{ metric: {}, value: body.data.result as [number, string] }];
    }
    return body.data?.result as { metric: Record<string, string>; value: [number, string] }[];
  }

  /** Waits until Prometheus has scraped every target successfully. */
  async waitForTargetsUp(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const up = await this.query(`up{job="${KUBEMACPOOL_JOB}"}`).catch(() => []);
      if (up.length > 0 && up.every((series) => series.value[1] === '1')) return;
      await sleep(200);
    }
    const errors = await this.targetErrors().catch((error: Error) => [error.message]);
    throw new Error(
      `the manager's metrics were not scraped within ${timeoutMs} ms (${errors.join('; ')}):\n${this.prometheus.log()}`,
    );
  }

  /** The last scrape error of each active target that has one (`GET /api/v1/targets`). */
  async targetErrors(): Promise<string[]> {
    const response = await fetch(`${this.prometheus.url}/api/v1/targets?state=active`);
    const body = (await response.json()) as {
      data: { activeTargets: { scrapeUrl: string; lastError: string }[] };
    };
    return body.data.activeTargets
      .filter((target) => target.lastError !== '')
      .map((target) => `${target.scrapeUrl}: ${target.lastError}`);
  }

  /**
   * Waits until the receiver got `alertname` with `status` (for `resolved`, pass the firing alert as `after`) and
   * returns that alert. On time-out the error shows what was delivered and the Prometheus and Alertmanager logs.
   */
  async waitForAlert(
    alertname: string,
    status: 'firing' | 'resolved',
    options: WaitForAlertOptions = {},
  ): Promise<NotifiedAlert> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    const matches = (alert: NotifiedAlert) =>
      alert.labels.alertname === alertname &&
      alert.status === status &&
      (options.after === undefined ||
        (alert.fingerprint === options.after.fingerprint && alert.startsAt === options.after.startsAt)) &&
      (options.since === undefined || Date.parse(alert.startsAt) >= options.since.getTime());
    while (Date.now() < deadline) {
      const found = this.receiver.alerts().find(matches);
      if (found !== undefined) return found;
      await sleep(200);
    }
    const delivered = this.receiver.alerts().map((a) => `${a.labels.alertname} ${a.status} ${a.startsAt}`);
    const active = await this.query('ALERTS').catch((error: Error) => error.message);
    throw new Error(
      `no ${status} ${alertname} notification within ${timeoutMs} ms; delivered: ${JSON.stringify(delivered)}; ` +
        `ALERTS: ${JSON.stringify(active)}\n--- prometheus\n${this.prometheus.log()}\n--- alertmanager\n${this.alertmanager.log()}`,
    );
  }

  async stop(): Promise<void> {
    await this.prometheus.stop();
    await this.alertmanager.stop();
    await this.receiver.close();
    rmSync(this.directory, { recursive: true, force: true });
  }
}
