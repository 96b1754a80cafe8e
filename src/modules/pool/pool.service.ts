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

  constructor(config: AppConfig) {
    this.pool = new MacPool(config.range);
  }
}
