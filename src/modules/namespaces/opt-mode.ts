import {
  type V1LabelSelector,
  type V1LabelSelectorRequirement,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { CodedException } from '../../common/coded-exception';
import { type OptMode, OPT_IN_VALUE, optModeExpression } from '../../common/webhook-configuration';

/** Why the opt mode of a webhook cannot be read from its configuration. */
export enum OptModeErrorCode {
  WEBHOOK_NOT_FOUND = 'WEBHOOK_NOT_FOUND',
  NO_NAMESPACE_SELECTOR = 'NO_NAMESPACE_SELECTOR',
  NO_OPT_MODE = 'NO_OPT_MODE',
}

/** A webhook configuration that does not say which namespaces are managed; messages are upstream's. */
export class OptModeError extends CodedException<OptModeErrorCode> {}

/**
 * The opt mode a webhook's namespaceSelector encodes, found as upstream does (`getOptModeFromWebhook`): the first
 * matchExpression equal to one of the two expressions `buildWebhookConfiguration` writes (same key, operator and
 * the single value), else `matchLabels[<name>] == 'allocate'` → opt-in. Any other selector, e.g.
 * `In [allocate, yes]`, encodes no mode, so a misconfiguration is reported instead of guessed at.
 */
export function optModeOf(configuration: V1MutatingWebhookConfiguration, webhookName: string): OptMode {
  const selector = webhookOf(configuration, webhookName).namespaceSelector;
  if (!selector) {
    throw new OptModeError(
      OptModeErrorCode.NO_NAMESPACE_SELECTOR,
      `webhook ${webhookName} has no NamespaceSelector`,
    );
  }
  for (const expression of selector.matchExpressions ?? []) {
    for (const mode of ['opt-in', 'opt-out'] as const) {
      if (sameRequirement(expression, optModeExpression(webhookName, mode))) return mode;
    }
  }
  if (selector.matchLabels?.[webhookName] === OPT_IN_VALUE) return 'opt-in';
  throw new OptModeError(OptModeErrorCode.NO_OPT_MODE, `no opt mode defined for webhook ${webhookName}`);
}

/**
 * Kubernetes label-selector semantics: every matchLabels pair and every matchExpression must hold. `In` needs the
 * key with one of the values; `NotIn` holds when the key is absent or its value is not listed; `Exists` and
 * `DoesNotExist` look at the key only. An operator outside these four (the API server rejects such a selector)
 * makes the requirement, and so the selector, not match: an unreadable selector never widens what is managed.
 * An absent selector matches everything, as the API server defaults a webhook's missing namespaceSelector to `{}`
 * (unlike Go's `LabelSelectorAsSelector(nil)`, which selects nothing).
 */
export function selectorMatches(
  selector: V1LabelSelector | undefined,
  labels: Record<string, string>,
): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((requirement) => requirementMatches(requirement, labels));
}

/**
 * Whether objects of that webhook in a namespace with these labels are managed, i.e. whether the API server calls
 * the webhook for them: its namespaceSelector matches the labels. Throws upstream's OptModeError when the webhook
 * is missing or encodes no opt mode, as upstream's `IsNamespaceManaged` does.
 *
 * Upstream first answers "opt-in → not managed, opt-out → managed" for a namespace without any labels, and
 * otherwise evaluates the selector. For the selectors `buildWebhookConfiguration` writes that is the same answer:
 * with no labels the opt-in expression (`In`) fails and the opt-out and run-level ones (`NotIn`) hold. It would
 * differ only for an extra expression that needs a label (`In`, `Exists`) in opt-out mode, where upstream's
 * shortcut claims a namespace the API server never sends; we follow the API server. (Since Kubernetes 1.21 every
 * namespace carries `kubernetes.io/metadata.name`, so the shortcut no longer applies in practice.)
 */
export function isNamespaceManaged(
  configuration: V1MutatingWebhookConfiguration,
  webhookName: string,
  namespaceLabels: Record<string, string>,
): boolean {
  optModeOf(configuration, webhookName);
  return selectorMatches(webhookOf(configuration, webhookName).namespaceSelector, namespaceLabels);
}

function webhookOf(configuration: V1MutatingWebhookConfiguration, webhookName: string): V1MutatingWebhook {
  const webhook = configuration.webhooks?.find((candidate) => candidate.name === webhookName);
  if (webhook === undefined) {
    throw new OptModeError(
      OptModeErrorCode.WEBHOOK_NOT_FOUND,
      `webhook ${webhookName} was not found on mutatingWebhookConfig ${configuration.metadata?.name ?? ''}`,
    );
  }
  return webhook;
}

function sameRequirement(actual: V1LabelSelectorRequirement, expected: V1LabelSelectorRequirement): boolean {
  const actualValues = actual.values ?? [];
  const expectedValues = expected.values ?? [];
  return (
    actual.key === expected.key &&
    actual.operator === expected.operator &&
    actualValues.length === expectedValues.length &&
    actualValues.every((value, index) => value === expectedValues[index])
  );
}

function requirementMatches(
  requirement: V1LabelSelectorRequirement,
  labels: Record<string, string>,
): boolean {
  const present = Object.hasOwn(labels, requirement.key);
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case 'In':
      return present && values.includes(labels[requirement.key]);
    case 'NotIn':
      return !present || !values.includes(labels[requirement.key]);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    default:
      return false;
  }
}
