import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
  loadAllYaml,
} from '@kubernetes/client-node';
import {
  POD_WEBHOOK_NAME,
  POD_WEBHOOK_PATH,
  RELEASE_WEBHOOK_CONFIGURATION_OPTIONS,
  VM_WEBHOOK_NAME,
  VM_WEBHOOK_PATH,
  type WebhookConfigurationOptions,
  buildWebhookConfiguration,
} from './webhook-configuration';

const MANIFEST = resolve(__dirname, '../../k8s/kubemacpool.yaml');

const RUN_LEVELS = [
  { key: 'runlevel', operator: 'NotIn', values: ['0', '1'] },
  { key: 'openshift.io/run-level', operator: 'NotIn', values: ['0', '1'] },
];

const options: WebhookConfigurationOptions = {
  podsMode: 'opt-in',
  virtualMachinesMode: 'opt-out',
  clientConfig: { service: { name: 'kmp-svc', namespace: 'kmp' } },
};

function webhooks(configuration = buildWebhookConfiguration(options)): Record<string, V1MutatingWebhook> {
  return Object.fromEntries((configuration.webhooks ?? []).map((webhook) => [webhook.name, webhook]));
}

describe('buildWebhookConfiguration', () => {
  it('names the configuration kubemacpool-mutator unless told otherwise', () => {
    const configuration = buildWebhookConfiguration(options);
    expect(configuration.apiVersion).toBe('admissionregistration.k8s.io/v1');
    expect(configuration.kind).toBe('MutatingWebhookConfiguration');
    expect(configuration.metadata).toEqual({ name: 'kubemacpool-mutator' });
    expect(buildWebhookConfiguration({ ...options, name: 'kmp-test-mutator' }).metadata?.name).toBe(
      'kmp-test-mutator',
    );
  });

  it('holds the pods webhook, then the virtual machines webhook, with their upstream names', () => {
    expect(buildWebhookConfiguration(options).webhooks?.map((webhook) => webhook.name)).toEqual([
      'mutatepods.kubemacpool.io',
      'mutatevirtualmachines.kubemacpool.io',
    ]);
  });

  it('intercepts pod creations and virtual machine creations and updates', () => {
    const { [POD_WEBHOOK_NAME]: pods, [VM_WEBHOOK_NAME]: vms } = webhooks();
    expect(pods.rules).toEqual([
      { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] },
    ]);
    expect(vms.rules).toEqual([
      {
        operations: ['CREATE', 'UPDATE'],
        apiGroups: ['kubevirt.io'],
        apiVersions: ['v1'],
        resources: ['virtualmachines'],
      },
    ]);
  });

  it('fails closed, without side effects on dry runs, and spells out the API defaults', () => {
    for (const webhook of Object.values(webhooks())) {
      expect(webhook).toMatchObject({
        failurePolicy: 'Fail',
        sideEffects: 'NoneOnDryRun',
        admissionReviewVersions: ['v1', 'v1beta1'],
        matchPolicy: 'Equivalent',
        reinvocationPolicy: 'Never',
        timeoutSeconds: 10,
      });
    }
    const fast = webhooks(buildWebhookConfiguration({ ...options, timeoutSeconds: 3 }));
    expect(Object.values(fast).map((webhook) => webhook.timeoutSeconds)).toEqual([3, 3]);
  });

  it('calls the Service on port 443 by default, each webhook on its own path', () => {
    const { [POD_WEBHOOK_NAME]: pods, [VM_WEBHOOK_NAME]: vms } = webhooks();
    expect(pods.clientConfig).toEqual({
      service: { name: 'kmp-svc', namespace: 'kmp', path: '/mutate-pods', port: 443 },
    });
    expect(vms.clientConfig).toEqual({
      service: { name: 'kmp-svc', namespace: 'kmp', path: '/mutate-virtualmachines', port: 443 },
    });
    const onPort = webhooks(
      buildWebhookConfiguration({
        ...options,
        clientConfig: { service: { name: 'kmp-svc', namespace: 'kmp', port: 8443 } },
      }),
    );
    expect(onPort[POD_WEBHOOK_NAME].clientConfig.service?.port).toBe(8443);
  });

  it('appends the paths to a url clientConfig, with no service and no doubled slash', () => {
    for (const url of ['https://127.0.0.1:8443', 'https://127.0.0.1:8443/']) {
      const { [POD_WEBHOOK_NAME]: pods, [VM_WEBHOOK_NAME]: vms } = webhooks(
        buildWebhookConfiguration({ ...options, clientConfig: { url } }),
      );
      expect(pods.clientConfig).toEqual({ url: `https://127.0.0.1:8443${POD_WEBHOOK_PATH}` });
      expect(vms.clientConfig).toEqual({ url: `https://127.0.0.1:8443${VM_WEBHOOK_PATH}` });
    }
  });

  it('never carries a caBundle: the manager injects it at run time', () => {
    for (const clientConfig of [options.clientConfig, { url: 'https://127.0.0.1:8443' }]) {
      for (const webhook of Object.values(
        webhooks(buildWebhookConfiguration({ ...options, clientConfig })),
      )) {
        expect(webhook.clientConfig).not.toHaveProperty('caBundle');
      }
    }
  });

  it('puts the opt expression first, then the run-level exclusions, then the extras', () => {
    const extra = { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kmp'] };
    const scoped = { key: 'e2e-run', operator: 'Exists' };
    const built = webhooks(
      buildWebhookConfiguration({ ...options, extraNamespaceSelectorExpressions: [extra, scoped] }),
    );
    expect(built[POD_WEBHOOK_NAME].namespaceSelector).toEqual({
      matchExpressions: [
        { key: POD_WEBHOOK_NAME, operator: 'In', values: ['allocate'] },
        ...RUN_LEVELS,
        extra,
        scoped,
      ],
    });
    expect(built[VM_WEBHOOK_NAME].namespaceSelector).toEqual({
      matchExpressions: [
        { key: VM_WEBHOOK_NAME, operator: 'NotIn', values: ['ignore'] },
        ...RUN_LEVELS,
        extra,
        scoped,
      ],
    });
    expect(built[VM_WEBHOOK_NAME].namespaceSelector?.matchExpressions?.[4]).not.toHaveProperty('values');
  });

  it('encodes each mode for each webhook independently', () => {
    const flipped = webhooks(
      buildWebhookConfiguration({ ...options, podsMode: 'opt-out', virtualMachinesMode: 'opt-in' }),
    );
    expect(flipped[POD_WEBHOOK_NAME].namespaceSelector?.matchExpressions?.[0]).toEqual({
      key: POD_WEBHOOK_NAME,
      operator: 'NotIn',
      values: ['ignore'],
    });
    expect(flipped[VM_WEBHOOK_NAME].namespaceSelector?.matchExpressions?.[0]).toEqual({
      key: VM_WEBHOOK_NAME,
      operator: 'In',
      values: ['allocate'],
    });
  });

  it('shares no arrays with its options or between webhooks', () => {
    const extra = { key: 'team', operator: 'In', values: ['a'] };
    const built = webhooks(
      buildWebhookConfiguration({ ...options, extraNamespaceSelectorExpressions: [extra] }),
    );
    built[POD_WEBHOOK_NAME].namespaceSelector?.matchExpressions?.[3].values?.push('b');
    built[POD_WEBHOOK_NAME].namespaceSelector?.matchExpressions?.[1].values?.push('2');
    expect(extra.values).toEqual(['a']);
    expect(built[VM_WEBHOOK_NAME].namespaceSelector?.matchExpressions?.[3].values).toEqual(['a']);
    expect(built[VM_WEBHOOK_NAME].namespaceSelector?.matchExpressions?.[1].values).toEqual(['0', '1']);
  });

  it('is JSON as it stands: nothing undefined, nothing lost in a round trip', () => {
    const configuration = buildWebhookConfiguration({ ...options, clientConfig: { url: 'https://x:1' } });
    expect(JSON.parse(JSON.stringify(configuration))).toStrictEqual(configuration);
  });
});

describe('release defaults', () => {
  it('are upstream release: pods opt-in, virtual machines opt-out, kubemacpool-service in kubemacpool-system', () => {
    expect(RELEASE_WEBHOOK_CONFIGURATION_OPTIONS).toEqual({
      podsMode: 'opt-in',
      virtualMachinesMode: 'opt-out',
      clientConfig: { service: { name: 'kubemacpool-service', namespace: 'kubemacpool-system', port: 443 } },
      extraNamespaceSelectorExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kubemacpool-system'] },
      ],
    });
  });

  describe('the chart, as rendered with its defaults into k8s/kubemacpool.yaml', () => {
    const text = readFileSync(MANIFEST, 'utf8');
    const rendered = loadAllYaml(text).find(
      (object) => (object as { kind?: string }).kind === 'MutatingWebhookConfiguration',
    ) as V1MutatingWebhookConfiguration;

    it('is what the builder makes from the release options (labels aside)', () => {
      const { labels, ...metadata } = rendered.metadata!;
      expect(labels).toMatchObject({ 'app.kubernetes.io/name': 'kubemacpool' });
      const committed: unknown = JSON.parse(JSON.stringify({ ...rendered, metadata }));
      expect(committed).toStrictEqual(buildWebhookConfiguration(RELEASE_WEBHOOK_CONFIGURATION_OPTIONS));
    });

    it('has no caBundle', () => {
      expect(text).not.toMatch(/caBundle:/);
    });
  });
});
