import { loadYaml } from '@kubernetes/client-node';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RUNBOOKS_DIR,
  alertingRules,
  dashboardQueries,
  loadMonitoringObjects,
  loadPrometheusRule,
  promtool,
  writeRuleFile,
} from '../support/monitoring-manifests';

const RULE_TESTS = join(__dirname, 'rules.test.yaml');

interface RuleTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

describe('the alert rules and dashboard in k8s/monitoring', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kmp-rules-'));
    writeRuleFile(join(dir, 'rules.yaml'));
    copyFileSync(RULE_TESTS, join(dir, 'rules.test.yaml'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes promtool check rules', async () => {
    const result = await promtool(['check', 'rules', 'rules.yaml'], dir);
    expect(result).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
  });

  it('fires and stays silent as test/monitoring/rules.test.yaml expects (promtool test rules)', async () => {
    const result = await promtool(['test', 'rules', 'rules.test.yaml'], dir);
    expect(result).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
  });

  it("has upstream's KubemacpoolMACCollisionDetected exactly, in upstream's group and object", () => {
    const rule = loadPrometheusRule();
    // Upstream's name and labels (the chart adds its app.kubernetes.io labels).
    expect(rule.metadata).toMatchObject({
      name: 'kubemacpool-prometheus-rule',
      namespace: 'kubemacpool-system',
      labels: {
        'prometheus.kubemacpool.io': 'true',
        'openshift.io/prometheus-rule-evaluation-scope': 'leaf-prometheus',
      },
    });
    const group = rule.spec.groups.find((g) => g.name === 'alerts.rules');
    expect(group?.rules.find((r) => r.alert === 'KubemacpoolMACCollisionDetected')).toEqual({
      alert: 'KubemacpoolMACCollisionDetected',
      expr: 'count(kmp_mac_collisions > 1) > 0',
      for: '30s',
      labels: { severity: 'warning' },
      annotations: {
        summary: 'MAC address collisions detected.',
        description:
          '{{ $value }} MAC address(es) have collisions. Multiple running objects are using the same MAC address.',
        runbook_url: 'https://kubevirt.io/monitoring/runbooks/KubemacpoolMACCollisionDetected',
      },
    });
  });

  it('gives every alert a severity, a summary, a description and a runbook_url naming it', () => {
    const incomplete = alertingRules().filter(
      (rule) =>
        !['warning', 'critical'].includes(rule.labels?.severity ?? '') ||
        !rule.annotations?.summary ||
        !rule.annotations?.description ||
        !rule.annotations?.runbook_url?.includes(rule.alert),
    );
    expect(incomplete.map((rule) => rule.alert)).toEqual([]);
  });

  it('has a runbook in docs/runbooks for every alert, with meaning, impact, diagnosis and mitigation', () => {
    const problems = alertingRules().flatMap((rule) => {
      const path = join(RUNBOOKS_DIR, `${rule.alert}.md`);
      if (!existsSync(path)) return [`${rule.alert}: docs/runbooks/${rule.alert}.md is missing`];
      const text = readFileSync(path, 'utf8');
      return ['# ' + rule.alert, '## Meaning', '## Impact', '## Diagnosis', '## Mitigation']
        .filter((heading) => !text.split('\n').includes(heading))
        .map((heading) => `${rule.alert}: no line '${heading}'`);
    });
    expect(problems).toEqual([]);
  });

  it('has no runbook without an alert', () => {
    const alerts = new Set(alertingRules().map((rule) => `${rule.alert}.md`));
    expect(readdirSync(RUNBOOKS_DIR).filter((file) => !alerts.has(file))).toEqual([]);
  });

  it('has promtool tests in which every alert fires and in which it does not', () => {
    const tests = (loadYaml(readFileSync(RULE_TESTS, 'utf8')) as RuleTests).tests.flatMap(
      (test) => test.alert_rule_test ?? [],
    );
    const untested = alertingRules().flatMap((rule) => {
      const cases = tests.filter((test) => test.alertname === rule.alert);
      return [
        ...(cases.some((test) => (test.exp_alerts ?? []).length > 0) ? [] : [`${rule.alert} never fires`]),
        ...(cases.some((test) => (test.exp_alerts ?? []).length === 0) ? [] : [`${rule.alert} always fires`]),
      ];
    });
    expect(untested).toEqual([]);
  });

  it('has a Grafana dashboard whose queries are all valid PromQL (promtool check rules on them)', async () => {
    const queries = dashboardQueries({ job: 'kubemacpool-metrics-service', __rate_interval: '1m' });
    expect(queries.length).toBeGreaterThan(10);
    // Recording rules are the one way promtool parses arbitrary expressions without a server.
    const rules = queries.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr }));
    writeFileSync(join(dir, 'dashboard.yaml'), JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const result = await promtool(['check', 'rules', 'dashboard.yaml'], dir);
    expect(result).toEqual({
      code: 0,
      output: expect.stringContaining(`SUCCESS: ${rules.length} rules found`),
    });
  });

  it('ships the Service, ServiceMonitor and RBAC upstream monitoring has, in kubemacpool-system, and the metrics-reader binding', () => {
    const objects = loadMonitoringObjects().map(({ object }) => ({
      kind: object.kind,
      name: object.metadata.name,
      namespace: (object.metadata as { namespace?: string }).namespace,
    }));
    const ns = 'kubemacpool-system';
    expect(objects).toEqual([
      { kind: 'PrometheusRule', name: 'kubemacpool-prometheus-rule', namespace: ns },
      { kind: 'Service', name: 'kubemacpool-metrics-service', namespace: ns },
      { kind: 'ServiceMonitor', name: 'kubemacpool-metrics-monitor', namespace: ns },
      // Cluster-scoped: lets Prometheus GET /metrics through kube-rbac-proxy.
      { kind: 'ClusterRoleBinding', name: 'kubemacpool-metrics-reader', namespace: undefined },
      { kind: 'Role', name: 'kubemacpool-prometheus', namespace: ns },
      { kind: 'RoleBinding', name: 'kubemacpool-prometheus', namespace: ns },
    ]);
  });
});
