import { loadAllYaml, loadYaml } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './binaries';
import { helmTemplate } from './helm';
import { type ServiceMonitorEndpoint } from './prometheus';

/** The monitoring manifests users apply (docs/monitoring.md). */
export const MONITORING_DIR = join(REPO_ROOT, 'k8s', 'monitoring');
export const PROMETHEUS_RULE_PATH = join(MONITORING_DIR, 'prometheus-rule.yaml');
export const DASHBOARD_PATH = join(MONITORING_DIR, 'grafana-dashboard.json');
export const RUNBOOKS_DIR = join(REPO_ROOT, 'docs', 'runbooks');

export interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: AlertingRule[];
}

export interface PrometheusRule {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: { groups: RuleGroup[] };
}

export function loadPrometheusRule(): PrometheusRule {
  return loadYaml(readFileSync(PROMETHEUS_RULE_PATH, 'utf8'));
}

/** Every document of every YAML file in k8s/monitoring, with the file it came from. */
export function loadMonitoringObjects(): {
  file: string;
  object: { kind: string; metadata: { name: string } };
}[] {
  return ['prometheus-rule.yaml', 'service.yaml', 'service-monitor.yaml', 'rbac.yaml'].flatMap((file) =>
    loadAllYaml(readFileSync(join(MONITORING_DIR, file), 'utf8')).map((object) => ({
      file,
      object: object as { kind: string; metadata: { name: string } },
    })),
  );
}

export function alertingRules(rule = loadPrometheusRule()): AlertingRule[] {
  return rule.spec.groups.flatMap((group) => group.rules);
}

/**
 * Writes the PrometheusRule's groups as a plain Prometheus rule file (what the operator hands Prometheus; JSON is
 * YAML, so Prometheus and promtool read it as it is). Returns its path.
 */
export function writeRuleFile(path: string): string {
  writeFileSync(path, JSON.stringify({ groups: loadPrometheusRule().spec.groups }, null, 2));
  return path;
}

interface DashboardPanel {
  title: string;
  targets?: { expr: string }[];
  panels?: DashboardPanel[];
}

/**
 * Every query of every panel of the Grafana dashboard (rows included), with Grafana's variables (`$job`,
 * `$__rate_interval`, ...) replaced by `variables`; a variable without a value is an error naming the panel.
 */
export function dashboardQueries(variables: Record<string, string>): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as { panels: DashboardPanel[] };
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  return panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      panel: panel.title,
      expr: target.expr.replace(/\$\{?(\w+)\}?/g, (variable: string, name: string) => {
        const value = variables[name];
        if (value === undefined) throw new Error(`panel ${panel.title}: no value for ${variable}`);
        return value;
      }),
    })),
  );
}

/** The promtool binary: PROMTOOL, else from PATH (Debian package `prometheus`). */
export const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

/** Runs promtool; a missing binary is an error that says how to install it, never a skipped test. */
export async function promtool(args: string[], cwd: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(PROMTOOL, args, { cwd });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & {
      code?: number | string;
      stdout?: string;
      stderr?: string;
    };
    if (failure.code === 'ENOENT') {
      throw new Error(
        `${PROMTOOL} not found: install the Debian package 'prometheus' (apt-get install prometheus), or set PROMTOOL`,
        { cause: error },
      );
    }
    return { code: Number(failure.code ?? 1), output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

/**
 * The endpoint of the chart's ServiceMonitor as `helm template` renders it for a release in `namespace`, with
 * `tlsConfig` as metrics.serviceMonitor.tlsConfig (undefined: the chart's default).
 */
export function chartServiceMonitorEndpoint(namespace: string, tlsConfig?: object): ServiceMonitorEndpoint {
  const text = helmTemplate(
    [
      '--show-only',
      'templates/monitoring/servicemonitor.yaml',
      '--api-versions',
      'monitoring.coreos.com/v1',
      '--set',
      'metrics.serviceMonitor.enabled=true',
      ...(tlsConfig === undefined
        ? []
        : ['--set-json', `metrics.serviceMonitor.tlsConfig=${JSON.stringify(tlsConfig)}`]),
    ],
    namespace,
  );
  const monitor = loadYaml<{ spec: { endpoints: ServiceMonitorEndpoint[] } }>(text);
  return monitor.spec.endpoints[0];
}
