import { ConsoleLogger } from '@nestjs/common';
import { startManager } from './bootstrap';

describe('startManager', () => {
  it('refuses to start on a malformed RANGE_START, naming the variable and the value', async () => {
    const logger = new ConsoleLogger('Config');
    const fatal = jest.spyOn(logger, 'fatal').mockImplementation(() => undefined);
    const app = await startManager(
      { RANGE_START: '02:00:00:00:00:0x', RANGE_END: '02:00:00:00:00:ff' },
      logger,
    );
    expect(app).toBeUndefined();
    expect(fatal).toHaveBeenCalledWith(expect.stringContaining('RANGE_START=02:00:00:00:00:0x'));
  });

  it('starts with a valid environment and serves pool metrics', async () => {
    const app = await startManager({
      RANGE_START: '02:00:00:00:00:00',
      RANGE_END: '02:00:00:00:00:ff',
      METRICS_ADDR: '127.0.0.1:0',
      LOG_LEVEL: 'error',
    });
    try {
      expect(app).toBeDefined();
      const response = await app!.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('kubemacpool_pool_size 256');
    } finally {
      await app?.close();
    }
  });
});
