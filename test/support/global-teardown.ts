import { type ControlPlane } from './control-plane';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { kmpControlPlane?: ControlPlane }).kmpControlPlane?.stop();
}
