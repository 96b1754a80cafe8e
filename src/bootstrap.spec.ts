import { ConsoleLogger } from '@nestjs/common';
import { startManager } from './bootstrap';

describe('startManager', () => {
  it('refuses to start on a malformed RANGE_START, naming the variable and the value', async () => {
    const logger = new ConsoleLogger('Config');
    const fatal = jest.spyOn(logger, 'fatal').mockImplementation(() => undefined);
    const manager = await startManager(
      { RANGE_START: '02:00:00:00:00:0x', RANGE_END: '02:00:00:00:00:ff' },
      { configLogger: logger },
    );
    expect(manager).toBeUndefined();
    expect(fatal).toHaveBeenCalledWith(expect.stringContaining('RANGE_START=02:00:00:00:00:0x'));
  });

  it('refuses invalid certificate intervals, naming the variables', async () => {
    const logger = new ConsoleLogger('Config');
    const fatal = jest.spyOn(logger, 'fatal').mockImplementation(() => undefined);
    const manager = await startManager(
      {
        RANGE_START: '02:00:00:00:00:00',
        RANGE_END: '02:00:00:00:00:ff',
        CA_ROTATE_INTERVAL: '1h',
        CA_OVERLAP_INTERVAL: '2h',
      },
      { configLogger: logger },
    );
    expect(manager).toBeUndefined();
    expect(fatal).toHaveBeenCalledWith(
      expect.stringContaining('CA_OVERLAP_INTERVAL=2h: must be shorter than CA_ROTATE_INTERVAL=1h'),
    );
  });
});
