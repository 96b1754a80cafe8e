import { join } from 'node:path';
import { TOOLS_BIN } from '../test/support/binaries';
import { startLocal } from './local-environment';

/** `npm run local`: the whole thing on this machine, until Ctrl-C. */
async function main(): Promise<void> {
  const env = await startLocal((line) => process.stdout.write(`${line}\n`));
  const kubectl = join(TOOLS_BIN, 'kubectl');
  process.stdout.write(
    [
      '',
      `Kubemacpool is running against Kubernetes ${env.plane.info.version} at ${env.plane.info.server}.`,
      'In another shell:',
      `  export KUBECONFIG=${env.plane.info.kubeconfigPath}`,
      `  ${kubectl} create -f k8s/examples/simple-vm.yaml`,
      `  ${kubectl} get vm simplevm -o jsonpath='{.spec.template.spec.domain.devices.interfaces}'`,
      '',
      'Press Ctrl-C to stop everything.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping…\n');
    void env.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
