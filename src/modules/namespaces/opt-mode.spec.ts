import { type V1LabelSelector, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { OptModeError, OptModeErrorCode, isNamespaceManaged, optModeOf, selectorMatches } from './opt-mode';
import {
  type OptMode,
  POD_WEBHOOK_NAME,
  VM_WEBHOOK_NAME,
  buildWebhookConfiguration,
} from '../../common/webhook-configuration';

const WEBHOOKS = [POD_WEBHOOK_NAME, VM_WEBHOOK_NAME];
const MODES: OptMode[] = ['opt-in', 'opt-out'];

/** A configuration with `mode` on every webhook. */
function configured(mode: OptMode): V1MutatingWebhookConfiguration {
  return buildWebhookConfiguration({
    podsMode: mode,
    virtualMachinesMode: mode,
    clientConfig: { url: 'https://127.0.0.1:8443' },
  });
}

/** A configuration holding one webhook with the given namespaceSelector. */
function withSelector(
  name: string,
  namespaceSelector: V1LabelSelector | undefined,
): V1MutatingWebhookConfiguration {
  return {
    metadata: { name: 'kubemacpool-mutator' },
    webhooks: [
      {
        name,
        clientConfig: { url: 'https://127.0.0.1:8443/mutate-pods' },
        sideEffects: 'NoneOnDryRun',
        admissionReviewVersions: ['v1'],
        ...(namespaceSelector === undefined ? {} : { namespaceSelector }),
      },
    ],
  };
}

function thrown(run: () => unknown): OptModeError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OptModeError);
    return error as OptModeError;
  }
  throw new Error('expected an OptModeError');
}

describe('optModeOf', () => {
  it.each(WEBHOOKS.flatMap((webhook) => MODES.map((mode) => [webhook, mode] as const)))(
    'reads back the mode the builder wrote for %s (%s)',
    (webhook, mode) => {
      expect(optModeOf(configured(mode), webhook)).toBe(mode);
    },
  );

  it('reads each webhook from its own expression, not the other webhook’s', () => {
    const mixed = buildWebhookConfiguration({
      podsMode: 'opt-out',
      virtualMachinesMode: 'opt-in',
      clientConfig: { url: 'https://127.0.0.1:8443' },
    });
    expect(optModeOf(mixed, POD_WEBHOOK_NAME)).toBe('opt-out');
    expect(optModeOf(mixed, VM_WEBHOOK_NAME)).toBe('opt-in');
  });

  it('finds the opt expression wherever it stands among the others', () => {
    const selector = {
      matchExpressions: [
        { key: 'runlevel', operator: 'NotIn', values: ['0', '1'] },
        { key: POD_WEBHOOK_NAME, operator: 'NotIn', values: ['ignore'] },
      ],
    };
    expect(optModeOf(withSelector(POD_WEBHOOK_NAME, selector), POD_WEBHOOK_NAME)).toBe('opt-out');
  });

  it('takes matchLabels <name>=allocate as opt-in, as upstream does', () => {
    const selector = { matchLabels: { [VM_WEBHOOK_NAME]: 'allocate' } };
    expect(optModeOf(withSelector(VM_WEBHOOK_NAME, selector), VM_WEBHOOK_NAME)).toBe('opt-in');
  });

  it.each<[string, V1LabelSelector]>([
    [
      'only the run-level exclusions',
      { matchExpressions: [{ key: 'runlevel', operator: 'NotIn', values: ['0'] }] },
    ],
    ['an empty selector', {}],
    [
      'a second value',
      { matchExpressions: [{ key: POD_WEBHOOK_NAME, operator: 'In', values: ['allocate', 'yes'] }] },
    ],
    [
      'another value',
      { matchExpressions: [{ key: POD_WEBHOOK_NAME, operator: 'NotIn', values: ['disable'] }] },
    ],
    ['another operator', { matchExpressions: [{ key: POD_WEBHOOK_NAME, operator: 'Exists' }] }],
    [
      'the other webhook’s key',
      { matchExpressions: [{ key: VM_WEBHOOK_NAME, operator: 'In', values: ['allocate'] }] },
    ],
    ['matchLabels ignore', { matchLabels: { [POD_WEBHOOK_NAME]: 'ignore' } }],
  ])('finds no opt mode in %s', (_, selector) => {
    const error = thrown(() => optModeOf(withSelector(POD_WEBHOOK_NAME, selector), POD_WEBHOOK_NAME));
    expect(error.code).toBe(OptModeErrorCode.NO_OPT_MODE);
    expect(error.message).toBe('no opt mode defined for webhook mutatepods.kubemacpool.io');
  });

  it('reports a webhook without a namespaceSelector in upstream’s words', () => {
    const error = thrown(() => optModeOf(withSelector(VM_WEBHOOK_NAME, undefined), VM_WEBHOOK_NAME));
    expect(error.code).toBe(OptModeErrorCode.NO_NAMESPACE_SELECTOR);
    expect(error.message).toBe('webhook mutatevirtualmachines.kubemacpool.io has no NamespaceSelector');
  });

  it('reports a missing webhook in upstream’s words, naming the configuration', () => {
    const error = thrown(() => optModeOf(withSelector(POD_WEBHOOK_NAME, {}), VM_WEBHOOK_NAME));
    expect(error.code).toBe(OptModeErrorCode.WEBHOOK_NOT_FOUND);
    expect(error.message).toBe(
      'webhook mutatevirtualmachines.kubemacpool.io was not found on mutatingWebhookConfig kubemacpool-mutator',
    );
    expect(() => optModeOf({ metadata: { name: 'empty' } }, POD_WEBHOOK_NAME)).toThrow(
      'webhook mutatepods.kubemacpool.io was not found on mutatingWebhookConfig empty',
    );
  });
});

describe('isNamespaceManaged', () => {
  const cases = WEBHOOKS.flatMap((webhook) => MODES.map((mode) => [webhook, mode] as const));

  it.each(cases)('%s in %s mode: manages allocate, never ignore', (webhook, mode) => {
    expect(isNamespaceManaged(configured(mode), webhook, { [webhook]: 'allocate' })).toBe(true);
    expect(isNamespaceManaged(configured(mode), webhook, { [webhook]: 'ignore' })).toBe(false);
  });

  it.each(cases)('%s in %s mode: another value counts as no label at all', (webhook, mode) => {
    const managed = mode === 'opt-out';
    expect(isNamespaceManaged(configured(mode), webhook, { [webhook]: 'disable' })).toBe(managed);
    expect(isNamespaceManaged(configured(mode), webhook, { team: 'a' })).toBe(managed);
  });

  it.each(cases)('%s in %s mode: a namespace without labels is managed only in opt-out', (webhook, mode) => {
    expect(isNamespaceManaged(configured(mode), webhook, {})).toBe(mode === 'opt-out');
  });

  it.each(cases)('%s in %s mode: never manages run level 0 or 1, even when opted in', (webhook, mode) => {
    for (const key of ['runlevel', 'openshift.io/run-level']) {
      for (const level of ['0', '1']) {
        expect(isNamespaceManaged(configured(mode), webhook, { [key]: level, [webhook]: 'allocate' })).toBe(
          false,
        );
      }
      expect(isNamespaceManaged(configured(mode), webhook, { [key]: '2', [webhook]: 'allocate' })).toBe(true);
    }
  });

  it('looks only at the webhook’s own label', () => {
    const optIn = configured('opt-in');
    expect(isNamespaceManaged(optIn, POD_WEBHOOK_NAME, { [VM_WEBHOOK_NAME]: 'allocate' })).toBe(false);
    const optOut = configured('opt-out');
    expect(isNamespaceManaged(optOut, POD_WEBHOOK_NAME, { [VM_WEBHOOK_NAME]: 'ignore' })).toBe(true);
  });

  it('honours the extra expressions, e.g. the manager’s own namespace', () => {
    const configuration = buildWebhookConfiguration({
      podsMode: 'opt-out',
      virtualMachinesMode: 'opt-out',
      clientConfig: { url: 'https://127.0.0.1:8443' },
      extraNamespaceSelectorExpressions: [
        { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kubemacpool-system'] },
      ],
    });
    expect(
      isNamespaceManaged(configuration, POD_WEBHOOK_NAME, { 'kubernetes.io/metadata.name': 'default' }),
    ).toBe(true);
    expect(
      isNamespaceManaged(configuration, POD_WEBHOOK_NAME, {
        'kubernetes.io/metadata.name': 'kubemacpool-system',
      }),
    ).toBe(false);
  });

  it('manages by matchLabels when that is how opt-in is written', () => {
    const configuration = withSelector(POD_WEBHOOK_NAME, { matchLabels: { [POD_WEBHOOK_NAME]: 'allocate' } });
    expect(isNamespaceManaged(configuration, POD_WEBHOOK_NAME, { [POD_WEBHOOK_NAME]: 'allocate' })).toBe(
      true,
    );
    expect(isNamespaceManaged(configuration, POD_WEBHOOK_NAME, { [POD_WEBHOOK_NAME]: 'disable' })).toBe(
      false,
    );
    expect(isNamespaceManaged(configuration, POD_WEBHOOK_NAME, {})).toBe(false);
  });

  it('follows the API server where upstream’s no-labels shortcut would not: an opt-out webhook scoped by In', () => {
    const configuration = withSelector(POD_WEBHOOK_NAME, {
      matchExpressions: [
        { key: POD_WEBHOOK_NAME, operator: 'NotIn', values: ['ignore'] },
        { key: 'e2e', operator: 'In', values: ['run-1'] },
      ],
    });
    expect(isNamespaceManaged(configuration, POD_WEBHOOK_NAME, {})).toBe(false);
    expect(isNamespaceManaged(configuration, POD_WEBHOOK_NAME, { e2e: 'run-1' })).toBe(true);
  });

  it('throws upstream’s errors for a configuration that encodes no mode', () => {
    expect(() => isNamespaceManaged(withSelector(POD_WEBHOOK_NAME, {}), POD_WEBHOOK_NAME, {})).toThrow(
      'no opt mode defined for webhook mutatepods.kubemacpool.io',
    );
    expect(() => isNamespaceManaged(configured('opt-in'), 'other.kubemacpool.io', {})).toThrow(OptModeError);
  });
});

describe('selectorMatches', () => {
  const labels = { app: 'web', tier: 'front' };

  it('matches everything without a selector or with an empty one', () => {
    expect(selectorMatches(undefined, labels)).toBe(true);
    expect(selectorMatches({}, {})).toBe(true);
    expect(selectorMatches({ matchLabels: {}, matchExpressions: [] }, labels)).toBe(true);
  });

  it('needs every matchLabels pair', () => {
    expect(selectorMatches({ matchLabels: { app: 'web' } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'web', tier: 'back' } }, labels)).toBe(false);
    expect(selectorMatches({ matchLabels: { zone: 'a' } }, labels)).toBe(false);
  });

  it('In needs the key with a listed value', () => {
    expect(
      selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] }, labels),
    ).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] }, labels),
    ).toBe(false);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, labels),
    ).toBe(false);
  });

  it('NotIn holds for an unlisted value and for an absent key, as in Kubernetes', () => {
    expect(
      selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['db'] }] }, labels),
    ).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, labels),
    ).toBe(false);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels),
    ).toBe(true);
  });

  it('Exists and DoesNotExist look at the key only', () => {
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels)).toBe(
      true,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels)).toBe(
      false,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, { app: '' })).toBe(
      true,
    );
  });

  it('ANDs matchLabels with every expression', () => {
    const selector = {
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['front'] },
        { key: 'zone', operator: 'DoesNotExist' },
      ],
    };
    expect(selectorMatches(selector, labels)).toBe(true);
    expect(selectorMatches(selector, { ...labels, zone: 'a' })).toBe(false);
    expect(selectorMatches(selector, { ...labels, app: 'db' })).toBe(false);
  });

  it('treats an unknown operator as not matching, so a bad selector never widens what is managed', () => {
    for (const operator of ['in', 'Gt', '']) {
      expect(selectorMatches({ matchExpressions: [{ key: 'app', operator, values: ['web'] }] }, labels)).toBe(
        false,
      );
      expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator, values: ['a'] }] }, labels)).toBe(
        false,
      );
    }
  });

  it('does not mistake inherited properties for labels', () => {
    expect(selectorMatches({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] }, {})).toBe(
      false,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'toString', operator: 'DoesNotExist' }] }, {})).toBe(
      true,
    );
  });
});
