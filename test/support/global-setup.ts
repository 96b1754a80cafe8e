import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane } from './control-plane';

/** Jest global setup of the integration project: one control plane for the whole run, described in a file. */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const plane = await ControlPlane.start({ attachOutput: process.env.KMP_CONTROL_PLANE_OUTPUT === '1' });
  (globalThis as { kmpControlPlane?: ControlPlane }).kmpControlPlane = plane;
  const infoPath = join(plane.directory, 'control-plane.json');
  writeFileSync(infoPath, JSON.stringify(plane.info), { mode: 0o600 });
  // Workers start after this and inherit the environment.
  process.env.KMP_TEST_CONTROL_PLANE = infoPath;
  process.env.KUBECONFIG = plane.info.kubeconfigPath;
  process.stderr.write(
    `\ncontrol plane ${plane.info.version} at ${plane.info.server} ready in ${Date.now() - started} ms (${plane.directory})\n`,
  );
}
