import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RELEASE_NAMESPACE } from '../../src/common/webhook-configuration';
import { REPO_ROOT, findBinary } from './binaries';

/** The chart, and the release name the plain manifests and the tests render it with. */
export const CHART_DIR = join(REPO_ROOT, 'helm', 'kubemacpool');
export const RELEASE_NAME = 'kubemacpool';

/** Runs `helm template` on the chart with extra arguments; returns its output (throws with helm's stderr). */
export function helmTemplate(args: readonly string[], namespace = RELEASE_NAMESPACE): string {
  return execFileSync(
    findBinary('helm'),
    ['template', RELEASE_NAME, CHART_DIR, '--namespace', namespace, ...args],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** Runs helm with `args`; resolves with its exit code and output, never throws for a non-zero exit. */
export async function helm(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(findBinary('helm'), [...args], {
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failure.code !== 'number') throw error;
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

/** The YAML documents of a multi-document text, each as written (comments kept), without empty ones. */
export function yamlDocuments(text: string): string[] {
  return text
    .split(/^---\s*$/m)
    .map((document) => document.trim())
    .filter((document) => document.split('\n').some((line) => line.trim() !== '' && !line.startsWith('#')));
}
