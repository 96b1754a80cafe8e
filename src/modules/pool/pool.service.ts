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
  private rebuilt = false;
  private resolveRebuilt!: () => void;
  /**
   * Resolves once the pool was rebuilt: work that must not compete with the rebuild for the CPU and memory (collision
   * detection's lists) waits for it.
   */
  readonly whenReady = new Promise<void>((resolve) => (this.resolveRebuilt = resolve));

  /**
   * Whether admission may take or record MACs in this replica's pool now; the leader module sets it to its fence.
   * Checked synchronously right before each write (MacClaims), after whatever the admission awaited.
   */
  admissionFence: () => boolean = () => true;

  constructor(config: AppConfig) {
    this.pool = new MacPool(config.range);
  }

  /**
   * False until the pool was rebuilt from the cluster: allocating before that could hand out a MAC a running object
   * already has, so admissions are refused meanwhile.
   */
  get ready(): boolean {
    return this.rebuilt;
  }

  set ready(value: boolean) {
    this.rebuilt = value;
    if (value) this.resolveRebuilt();
  }
}
