import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest folder above this file with a package.json (also when run from dist-dev/). */
export const REPO_ROOT = ((): string => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();

/** Where tools/build.sh puts the binaries it builds (git-ignored). */
export const TOOLS_BIN = process.env.KMP_TOOLS_BIN ?? join(REPO_ROOT, '.cache', 'bin');

export type ControlPlaneBinary = 'kube-apiserver' | 'etcd' | 'kubectl' | 'kube-controller-manager' | 'helm';

const ENVTEST_OVERRIDES: Partial<Record<ControlPlaneBinary, string>> = {
  'kube-apiserver': 'TEST_ASSET_KUBE_APISERVER',
  etcd: 'TEST_ASSET_ETCD',
  kubectl: 'TEST_ASSET_KUBECTL',
};

/**
 * Finds a control-plane binary the way envtest does, then in our build cache: TEST_ASSET_* first, then
 * KUBEBUILDER_ASSETS, then KMP_TOOLS_BIN (default .cache/bin). Throws with the fix when none exists.
 */
export function findBinary(name: ControlPlaneBinary, env: NodeJS.ProcessEnv = process.env): string {
  const candidates: string[] = [];
  const override = ENVTEST_OVERRIDES[name];
  if (override !== undefined && env[override]) candidates.push(env[override]);
  if (env.KUBEBUILDER_ASSETS) candidates.push(join(env.KUBEBUILDER_ASSETS, name));
  candidates.push(join(env.KMP_TOOLS_BIN ?? TOOLS_BIN, name));
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      `${name} not found (looked at ${candidates.join(', ')}); build it with: bash tools/build.sh`,
    );
  }
  return found;
}
