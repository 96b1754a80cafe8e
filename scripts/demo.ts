import { CustomObjectsApi, loadYaml } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/binaries';
import { startLocal } from './local-environment';

/**
 * `npm run demo`: starts everything, creates k8s/examples/simple-vm.yaml, prints the VM's interfaces with the MAC
 * the webhook assigned (as in upstream's README), and stops everything again.
 */
async function main(): Promise<void> {
  const env = await startLocal((line) => process.stdout.write(`${line}\n`));
  try {
    const body = loadYaml(
      readFileSync(join(REPO_ROOT, 'k8s', 'examples', 'simple-vm.yaml'), 'utf8'),
    ) as object;
    process.stdout.write('creating k8s/examples/simple-vm.yaml in namespace default…\n');
    const vm = (await env.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: 'kubevirt.io',
      version: 'v1',
      plural: 'virtualmachines',
      namespace: 'default',
      body,
    })) as { spec: { template: { spec: { domain: { devices: { interfaces: unknown[] } } } } } };
    const interfaces = vm.spec.template.spec.domain.devices.interfaces;
    process.stdout.write(
      `\nkubectl get vm simplevm -o jsonpath='{.spec.template.spec.domain.devices.interfaces}'\n`,
    );
    process.stdout.write(`${JSON.stringify(interfaces, null, 2)}\n`);
  } finally {
    await env.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
