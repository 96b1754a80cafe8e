import { Gauge, Registry } from 'prom-client';
import { AppConfig } from '../../config/app-config';
import { MacAddress } from '../pool/mac-address';
import { PoolService } from '../pool/pool.service';
import { whenRebuilt } from './metrics.module';

describe('pool gauges', () => {
  const config = AppConfig.fromEnvironment({
    RANGE_START: '02:00:00:00:00:00',
    RANGE_END: '02:00:00:00:00:ff',
  });

  it('have no sample while the pool is being rebuilt, then read the pool', async () => {
    const registry = new Registry();
    const used = new Gauge({ name: 'used', help: 'h', registers: [registry] });
    const entries = new Gauge({ name: 'entries', help: 'h', labelNames: ['state'], registers: [registry] });
    const pools = new PoolService(config);
    pools.pool.hold('vm/a/b', 'default', MacAddress.parse('02:00:00:00:00:07'), { state: 'committed' });
    const collect = async () => {
      whenRebuilt(used, pools, (stats) => used.set(stats.used));
      whenRebuilt(entries, pools, (stats) => entries.set({ state: 'committed' }, stats.committed), true);
      return (await registry.metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    };

    // A half-rebuilt pool would read as a dip towards 0 after every restart: no sample at all instead.
    expect(await collect()).toEqual([]);
    pools.ready = true;
    expect(await collect()).toEqual(['used 1', 'entries{state="committed"} 1']);
  });
});
