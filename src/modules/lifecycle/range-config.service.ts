import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { type V1ConfigMap, type V1ObjectReference } from '@kubernetes/client-node';
import { AppConfig } from '../../config/app-config';
import { ConfigMapRepository } from '../kube/config-map.repository';
import { EventRepository } from '../kube/event.repository';
import { describeError } from '../kube/kube-errors';
import { type CollectionWatch } from '../kube/resource-watch';
import { MacAddress } from '../pool/mac-address';
import { MacRange } from '../pool/mac-range';
import { PoolException } from '../pool/pool.exception';
import { PoolService } from '../pool/pool.service';

/** Upstream's day-2 range ConfigMap: its name and keys are what upstream's operators write. */
export const RANGE_CONFIGMAP_NAME = 'kubemacpool-mac-range-config';
const EVENT_COMPONENT = 'configmap-controller';

/**
 * Applies range changes written to the ConfigMap `kubemacpool-mac-range-config` in the manager's namespace: a valid
 * new range moves future allocations there (existing ones are kept); an invalid one is refused with upstream's
 * Warning Events (`InvalidRange`, `UpdateFailed`) and the current range stays.
 */
@Injectable()
export class RangeConfigService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(RangeConfigService.name);
  private watch: CollectionWatch | undefined;

  constructor(
    private readonly configMaps: ConfigMapRepository,
    private readonly events: EventRepository,
    private readonly config: AppConfig,
    private readonly pools: PoolService,
  ) {}

  onApplicationBootstrap(): void {
    this.watch = this.configMaps.watchOne(this.config.namespace, RANGE_CONFIGMAP_NAME, {
      onSync: (items) => (items[0] === undefined ? undefined : this.apply(items[0])),
      onEvent: (type, configMap) =>
        type === 'DELETED'
          ? this.logger.log('range ConfigMap deleted: keeping the current range', {
              configMap: RANGE_CONFIGMAP_NAME,
            })
          : this.apply(configMap),
      onError: (error) => this.logger.warn('watch interrupted, resuming', { error: describeError(error) }),
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
      this.logger.warn('invalid range ConfigMap data: keeping the current range', {
        configMap: RANGE_CONFIGMAP_NAME,
        error: message,
      });
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
      this.logger.warn('cannot apply the new range: keeping the current one', {
        rangeStart: start.toString(),
        rangeEnd: end.toString(),
        error: error.message,
      });
      await this.event(
        configMap,
        'UpdateFailed',
        `Failed to apply new MAC ranges ${start} - ${end}: ${error.message}`,
      );
      return;
    }
    this.pools.pool.setRange(range);
    this.logger.log('MAC range changed; existing allocations are kept', {
      previousStart: current.start.toString(),
      previousEnd: current.end.toString(),
      rangeStart: range.start.toString(),
      rangeEnd: range.end.toString(),
    });
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
      await this.events.create(namespace, {
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
      });
    } catch (error) {
      this.logger.warn('cannot record the Event', { reason, error: describeError(error) });
    }
  }
}
