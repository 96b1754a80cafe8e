import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { MacPool } from './mac-pool';

/**
 * The process-wide pool, built from the configured range. Only this service's MacPool decides MACs; everything that
 * allocates or releases goes through it.
 */
@Injectable()
export class PoolService {
  readonly pool: MacPool;
  /**
   * False until the pool was rebuilt from the cluster: allocating before that could hand out a MAC a running object
   * already has, so admissions are refused meanwhile.
   */
  ready = false;

  constructor(config: AppConfig) {
    this.pool = new MacPool(config.range);
  }
}
