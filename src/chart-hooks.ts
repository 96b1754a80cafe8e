// The Helm chart's two helper commands, run from the manager's image (no other image needed):
//   node dist/chart-hooks.js check-readiness                     `helm test`
//   node dist/chart-hooks.js remove-webhook-configuration NAME   the pre-delete hook
// Both exit 0 on success and 1 with one line on stderr that says what failed.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { KubeConnection } from './modules/kube/kube-connection';
import { describeError, isNotFound } from './modules/kube/kube-errors';
import { kubeJson } from './modules/kube/kube-http';

const WEBHOOK_CONFIGURATIONS_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';
const ATTEMPTS = 5;
const RETRY_DELAY_MS = 2_000;
const REQUEST_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** GET https://host:port/path, verifying the certificate against `ca` for `host`; resolves with the status. */
function getStatus(host: string, port: number, path: string, ca: string): Promise<number> {
  // SNI carries names only (RFC 6066); an IP address is verified against the certificate's IP SANs.
  const servername = isIP(host) === 0 ? host : undefined;
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, ca, servername, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * `helm test`: /healthz and /readyz through the webhook Service answer 200 over TLS that verifies against the
 * manager's CA for the Service's DNS name, as the API server verifies it. SERVICE_HOST, SERVICE_PORT (443) and
 * CA_FILE come from the test Pod.
 */
export async function checkReadiness(env: NodeJS.ProcessEnv): Promise<string> {
  const host = env.SERVICE_HOST;
  if (!host) throw new Error('SERVICE_HOST is not set');
  const port = Number(env.SERVICE_PORT ?? '443');
  const caFile = env.CA_FILE ?? '/ca/ca.crt';
  const ca = readFileSync(caFile, 'utf8');
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const statuses = [
        await getStatus(host, port, '/healthz', ca),
        await getStatus(host, port, '/readyz', ca),
      ];
      if (statuses.every((status) => status === 200))
        return `https://${host}:${port}: /healthz and /readyz answer 200 (certificate verified against ${caFile})`;
      last = `/healthz answered ${statuses[0]}, /readyz ${statuses[1]}`;
    } catch (error) {
      last = describeError(error);
    }
    if (attempt < ATTEMPTS) await sleep(RETRY_DELAY_MS);
  }
  throw new Error(`https://${host}:${port}: ${last} (after ${ATTEMPTS} attempts)`);
}

/**
 * The pre-delete hook: deletes the MutatingWebhookConfiguration before Helm removes the manager, so no Fail
 * webhook is left without a server. One already gone is success; other errors are retried.
 */
export async function removeWebhookConfiguration(name: string, env: NodeJS.ProcessEnv): Promise<string> {
  const connection = await KubeConnection.fromEnvironment(env);
  const path = `${WEBHOOK_CONFIGURATIONS_PATH}/${encodeURIComponent(name)}`;
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      await kubeJson(connection, { method: 'DELETE', path });
      return `deleted MutatingWebhookConfiguration ${name}`;
    } catch (error) {
      if (isNotFound(error)) return `MutatingWebhookConfiguration ${name} was already gone`;
      last = describeError(error);
    }
    if (attempt < ATTEMPTS) await sleep(RETRY_DELAY_MS);
  }
  throw new Error(
    `could not delete MutatingWebhookConfiguration ${name}: ${last} (after ${ATTEMPTS} attempts)`,
  );
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  try {
    let outcome: string;
    if (command === 'check-readiness' && rest.length === 0) outcome = await checkReadiness(env);
    else if (command === 'remove-webhook-configuration' && rest.length === 1)
      outcome = await removeWebhookConfiguration(rest[0], env);
    else {
      process.stderr.write(
        'usage: chart-hooks check-readiness | chart-hooks remove-webhook-configuration NAME\n',
      );
      return 2;
    }
    process.stdout.write(`${outcome}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (require.main === module)
  void main(process.argv.slice(2), process.env).then((code) => (process.exitCode = code));
