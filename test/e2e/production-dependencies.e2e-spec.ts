import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/binaries';
import { adminKubeConfig } from '../support/cluster';
import { startScopedManager } from '../support/scoped-manager';

/** Below jest's 60 s per test, so a manager that never gets ready fails with its own message and log path. */
const START_TIMEOUT_MS = 40_000;

const admission = adminKubeConfig().makeApiClient(AdmissionregistrationV1Api);

/**
 * The manager as an image runs it: compiled with the build's tsconfig, next to `npm ci --omit=dev` and nothing else,
 * so a module that resolves only through a development dependency (or through another package's own dependency in
 * the development tree) fails here. Started against the API server with no Secrets, so the paths loaded late run
 * too: the CA and serving certificate are made (node-forge), the pool is rebuilt, the webhook configuration patched.
 */
describe('the manager with production dependencies only (npm ci --omit=dev)', () => {
  let directory: string;

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'kmp-production-'));
    execFileSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        join(directory, 'dist'),
      ],
      { cwd: REPO_ROOT, stdio: 'inherit' },
    );
    for (const file of ['package.json', 'package-lock.json'])
      copyFileSync(join(REPO_ROOT, file), join(directory, file));
    execFileSync(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
      {
        cwd: directory,
        stdio: 'inherit',
      },
    );
  }, 300_000);

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('starts, makes its certificates, rebuilds the pool and serves', async () => {
    const { manager, stop } = await startScopedManager(
      'prod',
      { RANGE_START: '02:f2:00:00:00:00', RANGE_END: '02:f2:00:00:ff:ff' },
      { main: join(directory, 'dist', 'main.js'), cwd: directory },
    );
    try {
      await manager.start(START_TIMEOUT_MS);
      expect(await manager.metric('kubemacpool_pool_size')).toBe(65536);
      const configuration = await admission.readMutatingWebhookConfiguration({
        name: manager.env.WEBHOOK_CONFIGURATION_NAME,
      });
      expect(configuration.webhooks?.every((webhook) => (webhook.clientConfig.caBundle ?? '') !== '')).toBe(
        true,
      );
    } finally {
      await stop();
    }
  });

  it('runs with every mount read-only but its TMPDIR, as in the chart (read-only root file system, emptyDir on /tmp)', async () => {
    // A mount namespace of its own (root only, as in CI): every mount of this machine remounted read-only, then the
    // scratch directory bound read-write over itself. The manager must start, make its certificates and serve
    // writing nowhere else; the script refuses to start it if the root file system were still writable.
    const scratch = mkdtempSync(join(tmpdir(), 'kmp-scratch-'));
    const readOnly = [
      'set -e',
      'for target in $(findmnt -rno TARGET); do mount -o remount,bind,ro "$target" 2>/dev/null || true; done',
      'mount --bind "$TMPDIR" "$TMPDIR" && mount -o remount,bind,rw "$TMPDIR"',
      'if touch /tmp/.kmp-rw-probe 2>/dev/null || touch "$PWD/.kmp-rw-probe" 2>/dev/null; then',
      '  echo "the root file system is still writable" >&2; exit 97',
      'fi',
      'exec "$@"',
    ].join('\n');
    const { manager, stop } = await startScopedManager(
      'readonly',
      { RANGE_START: '02:f3:00:00:00:00', RANGE_END: '02:f3:00:00:ff:ff', TMPDIR: scratch },
      {
        main: join(directory, 'dist', 'main.js'),
        cwd: directory,
        wrap: ['unshare', '--mount', '--propagation', 'private', '--', 'bash', '-c', readOnly, 'read-only'],
      },
    );
    try {
      await manager.start(START_TIMEOUT_MS);
      expect(await manager.metric('kubemacpool_pool_size')).toBe(65536);
      // Node.js 22+ keeps its module compile cache there, the one thing it writes; Node.js 20 has none and writes nothing.
      const compileCache = Number(process.versions.node.split('.')[0]) >= 22;
      expect(readdirSync(scratch)).toEqual(
        compileCache ? [expect.stringMatching(/^kubemacpool-compile-cache-/)] : [],
      );
    } finally {
      await stop();
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('loads the chart hooks script (helm test, pre-delete) with them', () => {
    const run = spawnSync(process.execPath, [join(directory, 'dist', 'chart-hooks.js'), 'no-such-command'], {
      cwd: directory,
      encoding: 'utf8',
    });
    expect({ status: run.status, stderr: run.stderr }).toEqual({
      status: 2,
      stderr: 'usage: chart-hooks check-readiness | chart-hooks remove-webhook-configuration NAME\n',
    });
  });
});
