import { join } from 'node:path';
import { TOOLS_BIN } from './binaries';
import { ControlPlane } from './control-plane';

/**
 * `npm run cluster`: starts the test control plane on its own and keeps it running until Ctrl-C, so a person can
 * point kubectl at it.
 */
async function main(): Promise<void> {
  const plane = await ControlPlane.start();
  const kubectl = join(TOOLS_BIN, 'kubectl');
  process.stdout.write(
    [
      `Kubernetes ${plane.info.version} is running at ${plane.info.server}`,
      `kubeconfig: ${plane.info.kubeconfigPath}`,
      '',
      'In another shell:',
      `  export KUBECONFIG=${plane.info.kubeconfigPath}`,
      `  ${kubectl} get --raw /version`,
      '',
      'Press Ctrl-C to stop it.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the control plane\n`);
    void plane.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
