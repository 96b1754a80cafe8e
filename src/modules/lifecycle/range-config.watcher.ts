import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { CoreV1Api, KubeConfig, type V1ConfigMap, type V1ObjectReference } from '@kubernetes/client-node';
import { AppConfig } from '../../config/app-config';
import { describeError } from '../kube/kube-errors';
import { ResourceWatch } from '../kube/resource-watch';
import { MacAddress } from '../pool/mac-address';
import { MacRange } from '../pool/mac-range';
import { PoolException } from '../pool/pool.exception';
import { PoolService } from '../pool/pool.service';

/** Upstream's day-2 range ConfigMap (SPEC.md §1.4). */
export const RANGE_CONFIGMAP_NAME = 'kubemacpool-mac-range-config';
const EVENT_COMPONENT = 'configmap-controller';

/**
 * Applies range changes written to the ConfigMap `kubemacpool-mac-range-config` in the manager's namespace: a valid
 * new range moves future allocations there (existing ones are kept); an invalid one is refused with upstream's
 * Warning Events (`InvalidRange`, `UpdateFailed`) and the current range stays.
 */
@Injectable()
export class RangeConfigWatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RangeConfigWatcher.name);
  private readonly core: CoreV1Api;
  private watch: ResourceWatch<V1ConfigMap> | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly config: AppConfig,
    private readonly pools: PoolService,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  onApplicationBootstrap(): void {
    const namespace = this.config.namespace;
    const fieldSelector = `metadata.name=${RANGE_CONFIGMAP_NAME}`;
    this.watch = new ResourceWatch<V1ConfigMap>(this.kubeConfig, {
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      query: { fieldSelector },
      onSync: (items) => (items[0] === undefined ? undefined : this.apply(items[0])),
      onEvent: (type, configMap) =>
        type === 'DELETED'
          ? this.logger.log('ConfigMap not found, ignoring since object must be deleted')
          : this.apply(configMap),
      onError: (error) => this.logger.warn(`watch interrupted, resuming: ${describeError(error)}`),
    });
    void this.watch.start();
  }

  onModuleDestroy(): void {
    this.watch?.stop();
  }

  async apply(configMap: V1ConfigMap): Promise<void> {
    let start: MacAddress;
    let end: MacAddress;
    try {
      start = this.read(configMap, 'RANGE_START');
      end = this.read(configMap, 'RANGE_END');
    } catch (error) {
      const message = (error as Error).message;
      this.logger.warn(`invalid ConfigMap data: ${message}`);
      await this.event(
        configMap,
        'InvalidRange',
        `Invalid MAC range in ConfigMap, ignoring new range values: ${message}`,
      );
      return;
    }
    const current = this.pools.pool.range;
    if (current.start.equals(start) && current.end.equals(end)) return;
    let range: MacRange;
    try {
      range = new MacRange(start, end);
    } catch (error) {
      if (!(error instanceof PoolException)) throw error;
      this.logger.warn(`failed to apply new ranges: ${error.message}`);
      await this.event(
        configMap,
        'UpdateFailed',
        `Failed to apply new MAC ranges ${start} - ${end}: ${error.message}`,
      );
      return;
    }
    this.pools.pool.setRange(range);
    this.logger.log(`MAC range changed from ${current} to ${range}; existing allocations are kept`);
  }

  private read(configMap: V1ConfigMap, key: 'RANGE_START' | 'RANGE_END'): MacAddress {
    const value = configMap.data?.[key];
    if (value === undefined) throw new Error(`${key} not found in ConfigMap`);
    try {
      return MacAddress.parse(value);
    } catch (error) {
      throw new Error(`invalid ${key} "${value}": ${(error as Error).message}`, { cause: error });
    }
  }

  /** A Warning Event on the manager's Pod (as upstream), or on the ConfigMap when the Pod is not known. */
  private async event(configMap: V1ConfigMap, reason: string, message: string): Promise<void> {
    const namespace = this.config.namespace;
    const involvedObject: V1ObjectReference = this.config.podName
      ? { kind: 'Pod', apiVersion: 'v1', namespace, name: this.config.podName }
      : {
          kind: 'ConfigMap',
          apiVersion: 'v1',
          namespace,
          name: RANGE_CONFIGMAP_NAME,
          uid: configMap.metadata?.uid,
        };
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${involvedObject.name}.` },
          involvedObject,
          reason,
          message,
          type: 'Warning',
          source: { component: EVENT_COMPONENT },
          reportingComponent: EVENT_COMPONENT,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (error) {
      this.logger.warn(`cannot record the ${reason} Event: ${describeError(error)}`);
    }
  }
}
