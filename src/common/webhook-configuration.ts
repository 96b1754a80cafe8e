import {
  type V1LabelSelectorRequirement,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';

/** Upstream's names: the namespace opt-in/opt-out label keys are these webhook names. */
export const WEBHOOK_CONFIGURATION_NAME = 'kubemacpool-mutator';
/** The Service in front of the webhook; the serving certificate is issued for its DNS names. */
export const SERVICE_NAME = 'kubemacpool-service';
export const POD_WEBHOOK_NAME = 'mutatepods.kubemacpool.io';
export const VM_WEBHOOK_NAME = 'mutatevirtualmachines.kubemacpool.io';
export const POD_WEBHOOK_PATH = '/mutate-pods';
export const VM_WEBHOOK_PATH = '/mutate-virtualmachines';

/** opt-in: only namespaces labelled `<webhook>=allocate` are served; opt-out: all but those labelled `ignore`. */
export type OptMode = 'opt-in' | 'opt-out';
export const OPT_IN_VALUE = 'allocate';
export const OPT_OUT_VALUE = 'ignore';

/** Namespaces whose run level is 0 or 1 (the control plane's own) are never served, in either mode. */
export const RUN_LEVEL_LABELS = ['runlevel', 'openshift.io/run-level'] as const;
export const EXCLUDED_RUN_LEVELS = ['0', '1'] as const;

export type WebhookClientTarget =
  | { service: { name: string; namespace: string; port?: number } }
  /** A base URL such as `https://127.0.0.1:8443`; the webhook's path is appended. */
  | { url: string };

export interface WebhookConfigurationOptions {
  /** Defaults to `kubemacpool-mutator`. */
  name?: string;
  podsMode: OptMode;
  virtualMachinesMode: OptMode;
  clientConfig: WebhookClientTarget;
  /** Defaults to 10 (the API server's default; 1–30 allowed). */
  timeoutSeconds?: number;
  /** ANDed after the opt and run-level expressions, e.g. to exclude the manager's namespace or to scope tests. */
  extraNamespaceSelectorExpressions?: V1LabelSelectorRequirement[];
}

/**
 * The namespace selector expression that encodes an opt mode, exactly as upstream writes and looks for it
 * (a single value, compared by deep equality in `optModeOf`).
 */
export function optModeExpression(webhookName: string, mode: OptMode): V1LabelSelectorRequirement {
  return mode === 'opt-in'
    ? { key: webhookName, operator: 'In', values: [OPT_IN_VALUE] }
    : { key: webhookName, operator: 'NotIn', values: [OPT_OUT_VALUE] };
}

/**
 * The MutatingWebhookConfiguration for both webhooks, as a plain JSON-compatible object. It never carries a
 * caBundle: the manager injects and rotates it at run time, and a templated one would be stale on every apply.
 * Fields upstream leaves to API defaults (matchPolicy, reinvocationPolicy, timeoutSeconds) are spelled out so that
 * what is applied is what is read back.
 */
export function buildWebhookConfiguration(
  options: WebhookConfigurationOptions,
): V1MutatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: options.name ?? WEBHOOK_CONFIGURATION_NAME },
    webhooks: [
      webhook(options, POD_WEBHOOK_NAME, POD_WEBHOOK_PATH, options.podsMode, {
        operations: ['CREATE'],
        apiGroups: [''],
        apiVersions: ['v1'],
        resources: ['pods'],
      }),
      webhook(options, VM_WEBHOOK_NAME, VM_WEBHOOK_PATH, options.virtualMachinesMode, {
        operations: ['CREATE', 'UPDATE'],
        apiGroups: ['kubevirt.io'],
        apiVersions: ['v1'],
        resources: ['virtualmachines'],
      }),
    ],
  };
}

function webhook(
  options: WebhookConfigurationOptions,
  name: string,
  path: string,
  mode: OptMode,
  rule: { operations: string[]; apiGroups: string[]; apiVersions: string[]; resources: string[] },
): V1MutatingWebhook {
  return {
    name,
    clientConfig: clientConfig(options.clientConfig, path),
    rules: [rule],
    failurePolicy: 'Fail',
    sideEffects: 'NoneOnDryRun',
    admissionReviewVersions: ['v1', 'v1beta1'],
    matchPolicy: 'Equivalent',
    reinvocationPolicy: 'Never',
    timeoutSeconds: options.timeoutSeconds ?? 10,
    namespaceSelector: {
      // The opt expression comes first, as upstream writes it; the manager reads the mode back from it.
      matchExpressions: [
        optModeExpression(name, mode),
        ...RUN_LEVEL_LABELS.map((key) => ({ key, operator: 'NotIn', values: [...EXCLUDED_RUN_LEVELS] })),
        ...(options.extraNamespaceSelectorExpressions ?? []).map((expression) => ({
          key: expression.key,
          operator: expression.operator,
          ...(expression.values === undefined ? {} : { values: [...expression.values] }),
        })),
      ],
    },
  };
}

function clientConfig(target: WebhookClientTarget, path: string): V1MutatingWebhook['clientConfig'] {
  if ('url' in target) return { url: `${target.url.replace(/\/+$/, '')}${path}` };
  const { name, namespace, port = 443 } = target.service;
  return { service: { name, namespace, path, port } };
}

/** The namespace upstream's release manifests install into. */
export const RELEASE_NAMESPACE = 'kubemacpool-system';

/**
 * Upstream's release defaults (its `config/release` manifests): Pods opt-in, VirtualMachines opt-out, behind
 * `kubemacpool-service`. The manager's own namespace is excluded as well, so that with failurePolicy Fail the
 * webhook can never block the creation of its own Pods (upstream relies on the namespace not being labelled,
 * which only protects it in opt-in mode).
 */
export const RELEASE_WEBHOOK_CONFIGURATION_OPTIONS: WebhookConfigurationOptions = {
  podsMode: 'opt-in',
  virtualMachinesMode: 'opt-out',
  clientConfig: { service: { name: SERVICE_NAME, namespace: RELEASE_NAMESPACE, port: 443 } },
  extraNamespaceSelectorExpressions: [
    { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [RELEASE_NAMESPACE] },
  ],
};
