import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { REPO_ROOT } from './binaries';
import { reap } from './children';
import { freeLoopbackPort } from './ports';

/** The compiled manager entry point (tsc -p tsconfig.dev.json), run as its own process so tests can kill it. */
export const MANAGER_MAIN = join(REPO_ROOT, 'dist-dev', 'src', 'main.js');

/**
 * The Node.js flags `npm start` runs the manager with (package.json is the one place they are written), so tests,
 * benchmarks and `npm run local` measure the process that ships.
 */
export function managerNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

/** Compiles the manager once per run (a second or two when nothing changed). */
export function buildManager(): void {
  execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.dev.json'],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    },
  );
  if (!existsSync(MANAGER_MAIN)) throw new Error(`${MANAGER_MAIN} was not built`);
}

/** The manager as a child process with its own webhook and metrics ports. */
export class ManagerProcess {
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private readonly exitHandler = () => this.child?.kill('SIGKILL');

  private constructor(
    readonly env: Record<string, string>,
    readonly port: number,
    readonly metricsPort: number,
    readonly logPath: string,
    private readonly options: {
      args: readonly string[];
      main: string;
      cwd?: string;
      wrap: readonly string[];
    },
  ) {}

  /**
   * `args`: command-line arguments after the script, from the ports this process will use. `main`: the script
   * (the compiled dist-dev/src/main.js by default), run in `cwd`.
   */
  static async create(
    env: Record<string, string>,
    logPath: string,
    options: {
      args?: (ports: { webhook: number; metrics: number }) => string[];
      main?: string;
      cwd?: string;
      /** A command the node process is started through (it ends by exec'ing its arguments), e.g. unshare. */
      wrap?: readonly string[];
    } = {},
  ): Promise<ManagerProcess> {
    const webhook = await freeLoopbackPort();
    const metrics = await freeLoopbackPort();
    // One identity per ManagerProcess, kept across its restarts (as a container restarted in its Pod keeps the
    // Pod's name): a restarted manager renews its own Lease at once instead of waiting for it to expire.
    env = { LEADER_ELECTION_IDENTITY: `manager-${randomBytes(4).toString('hex')}`, ...env };
    return new ManagerProcess(env, webhook, metrics, logPath, {
      args: options.args?.({ webhook, metrics }) ?? [],
      main: options.main ?? MANAGER_MAIN,
      cwd: options.cwd,
      wrap: options.wrap ?? [],
    });
  }

  /**
   * Starts it; resolves when /readyz answers 200 (certificate loaded, pool rebuilt). Returns the time that took. A
   * manager that is not ready in time is killed. It never outlives this process: killed on exit, and by a watchdog
   * if this process is killed itself (the manager runs in its own process group, so Ctrl-C does not reach it).
   */
  async start(timeoutMs = 60_000): Promise<number> {
    const started = Date.now();
    const log = openSync(this.logPath, 'a');
    const command = [process.execPath, ...managerNodeFlags(), this.options.main, ...this.options.args];
    const [file, ...args] = [...this.options.wrap, ...command];
    this.child = spawn(file, args, {
      detached: true,
      cwd: this.options.cwd,
      env: {
        ...process.env,
        WEBHOOK_PORT: String(this.port),
        METRICS_ADDR: `127.0.0.1:${this.metricsPort}`,
        // The guarded endpoint (on by default, :8443) only where a test asks for it, on a port of its own.
        METRICS_SECURE_ADDR: '',
        WEBHOOK_EXTRA_IP_ADDRESSES: '127.0.0.1',
        ...this.env,
      },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.guard(this.child);
    while (Date.now() - started < timeoutMs) {
      if (this.child.exitCode !== null)
        throw new Error(`the manager exited with ${this.child.exitCode}; log: ${this.logPath}`);
      if ((await this.readyz().catch(() => 0)) === 200) return Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.kill();
    throw new Error(`the manager was not ready within ${timeoutMs} ms; log: ${this.logPath}`);
  }

  private guard(child: ChildProcess): void {
    process.on('exit', this.exitHandler);
    this.watchdog?.kill('SIGKILL');
    this.watchdog = spawn(
      process.execPath,
      [join(REPO_ROOT, 'test', 'support', 'watchdog.js'), String(process.pid), '-', String(child.pid)],
      { detached: true, stdio: 'ignore' },
    );
    this.watchdog.unref();
    child.once('exit', () => {
      process.off('exit', this.exitHandler);
      this.watchdog?.kill('SIGKILL');
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** HTTP status of /readyz (the certificate is not checked: this asks the process, not the API server). */
  readyz(): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: this.port, path: '/readyz', rejectUnauthorized: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** One sample of a metric from /metrics (first match of `name` with the given label text). */
  async metric(name: string, labels = ''): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    if (line === undefined) throw new Error(`metric ${name}${labels} not found`);
    return Number(line.split(' ')[1]);
  }

  /** SIGKILL: no clean-up of any kind, as a crashed or evicted manager. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await reap(this.watchdog);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await reap(this.watchdog);
  }
}
