import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type V1MutatingWebhookConfiguration, type V1Namespace } from '@kubernetes/client-node';
import { AppConfig } from '../../config/app-config';
import { describeError } from '../kube/kube-errors';
import { type CollectionWatch } from '../kube/resource-watch';
import { NamespaceScopeRepository } from './namespace-scope.repository';
import { OptModeError, isNamespaceManaged, optModeOf } from './opt-mode';
import { type OptMode, POD_WEBHOOK_NAME, VM_WEBHOOK_NAME } from '../../common/webhook-configuration';

export type ManagedKind = 'pods' | 'virtualmachines';

const WEBHOOK_OF: Record<ManagedKind, string> = { pods: POD_WEBHOOK_NAME, virtualmachines: VM_WEBHOOK_NAME };

/**
 * Which namespaces the manager manages, per kind: read from the webhook configuration's selectors (the same ones
 * the API server applies, so both always agree) and the namespaces' labels, both kept current by watches. The
 * admission path never needs it (the API server only calls for managed namespaces); the life-cycle controllers
 * and the start-up rebuild do, and it answers from memory.
 */
@Injectable()
export class NamespaceScopeService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(NamespaceScopeService.name);
  private configuration: V1MutatingWebhookConfiguration | undefined;
  private readonly namespaceLabels = new Map<string, Record<string, string>>();
  private readonly watches: CollectionWatch[] = [];
  private loggedModes = '';
  private readonly listeners: (() => void)[] = [];
  private resolveSynced!: () => void;
  /** Resolves once namespaces and the webhook configuration were listed. */
  readonly synced = new Promise<void>((resolve) => (this.resolveSynced = resolve));

  constructor(
    private readonly repository: NamespaceScopeRepository,
    private readonly config: AppConfig,
  ) {}

  /** Calls `listener` whenever what is managed may have changed (selectors or namespace labels). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The mode of a kind's webhook, or undefined when the configuration is missing or encodes none. */
  mode(kind: ManagedKind): OptMode | undefined {
    if (this.configuration === undefined) return undefined;
    try {
      return optModeOf(this.configuration, WEBHOOK_OF[kind]);
    } catch (error) {
      if (error instanceof OptModeError) return undefined;
      throw error;
    }
  }

  /**
   * The API server's timeout for calls of a kind's webhook, in seconds: what the configuration says, else the
   * API's default of 10 (also while the configuration is unknown).
   */
  timeoutSeconds(kind: ManagedKind): number {
    const webhook = this.configuration?.webhooks?.find((w) => w.name === WEBHOOK_OF[kind]);
    return webhook?.timeoutSeconds ?? 10;
  }

  /** Whether objects of `kind` in `namespace` are managed; false while the configuration or namespace is unknown. */
  isManaged(kind: ManagedKind, namespace: string): boolean {
    const labels = this.namespaceLabels.get(namespace);
    if (this.configuration === undefined || labels === undefined || this.mode(kind) === undefined)
      return false;
    return isNamespaceManaged(this.configuration, WEBHOOK_OF[kind], labels);
  }

  onApplicationBootstrap(): void {
    const onError = (error: unknown) =>
      this.logger.warn('watch interrupted, resuming', { error: describeError(error) });
    const namespaces = this.repository.watchNamespaces({
      onSync: (items) => {
        this.namespaceLabels.clear();
        for (const namespace of items) this.remember('ADDED', namespace);
      },
      onEvent: (type, namespace) => this.remember(type, namespace),
      onError,
    });
    const configurations = this.repository.watchWebhookConfiguration(this.config.webhook.configurationName, {
      onSync: (items) => this.useConfiguration(items[0]),
      onEvent: (type, item) => this.useConfiguration(type === 'DELETED' ? undefined : item),
      onError,
    });
    this.watches.push(namespaces, configurations);
    void Promise.all([namespaces.start(), configurations.start()]).then(() => this.resolveSynced());
  }

  onModuleDestroy(): void {
    for (const watch of this.watches) watch.stop();
  }

  private remember(type: string, namespace: V1Namespace): void {
    const name = namespace.metadata?.name;
    if (name === undefined) return;
    if (type === 'DELETED') this.namespaceLabels.delete(name);
    else this.namespaceLabels.set(name, namespace.metadata?.labels ?? {});
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private useConfiguration(configuration: V1MutatingWebhookConfiguration | undefined): void {
    this.configuration = configuration;
    this.changed();
    const modes = {
      pods: this.mode('pods') ?? 'none',
      virtualMachines: this.mode('virtualmachines') ?? 'none',
    };
    const key = `${modes.pods}/${modes.virtualMachines}`;
    if (key === this.loggedModes) return;
    this.loggedModes = key;
    const name = this.config.webhook.configurationName;
    if (configuration === undefined) {
      this.logger.warn('webhook configuration not found: no namespace is managed', { configuration: name });
    } else {
      this.logger.log('opt modes of the webhook configuration', { configuration: name, ...modes });
    }
  }
}
