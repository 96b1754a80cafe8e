import { AppConfig, ConfigurationException } from './app-config';

const valid = { RANGE_START: '02:00:00:00:00:00', RANGE_END: '02:FF:FF:FF:FF:FF' };

function problems(env: Record<string, string>): string[] {
  try {
    AppConfig.fromEnvironment(env);
  } catch (error) {
    if (error instanceof ConfigurationException) return error.problems;
    throw error;
  }
  throw new Error('configuration was accepted');
}

describe('AppConfig', () => {
  it('applies defaults', () => {
    const config = AppConfig.fromEnvironment(valid);
    expect(config.range.size).toBe(2 ** 40);
    expect(config.webhookPort).toBe(8000);
    expect(config.metrics).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(config.logLevel).toBe('log');
    expect(config.duplicatePolicy).toBe('Warn');
  });

  it('reads every variable', () => {
    const config = AppConfig.fromEnvironment({
      ...valid,
      WEBHOOK_PORT: '9443',
      METRICS_ADDR: '127.0.0.1:9090',
      LOG_LEVEL: 'debug',
      DUPLICATE_POLICY: 'Reject',
    });
    expect(config.webhookPort).toBe(9443);
    expect(config.metrics).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(config.logLevel).toBe('debug');
    expect(config.duplicatePolicy).toBe('Reject');
  });

  it('accepts an IPv6 metrics address', () => {
    expect(AppConfig.fromEnvironment({ ...valid, METRICS_ADDR: '[::1]:8080' }).metrics).toEqual({
      host: '::1',
      port: 8080,
    });
  });

  it('names a malformed RANGE_START and its value', () => {
    expect(problems({ ...valid, RANGE_START: '02:00:00:00:00' })).toEqual([
      'RANGE_START=02:00:00:00:00: address 02:00:00:00:00: invalid MAC address',
    ]);
  });

  it('lists every invalid variable at once', () => {
    const found = problems({
      RANGE_END: 'zz',
      WEBHOOK_PORT: '70000',
      METRICS_ADDR: 'localhost',
      LOG_LEVEL: 'chatty',
      DUPLICATE_POLICY: 'warn',
    });
    expect(found).toHaveLength(6);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^RANGE_START=\(unset\): is required/),
        'RANGE_END=zz: address zz: invalid MAC address',
        'WEBHOOK_PORT=70000: must be a port from 1 to 65535',
        expect.stringMatching(/^METRICS_ADDR=localhost: must be \[host\]:port/),
        expect.stringMatching(/^LOG_LEVEL=chatty: must be one of fatal, error/),
        'DUPLICATE_POLICY=warn: must be one of Warn, Reject',
      ]),
    );
  });

  it('rejects a non-numeric port', () => {
    expect(problems({ ...valid, WEBHOOK_PORT: 'http' })).toEqual([
      expect.stringMatching(/^WEBHOOK_PORT=http: /),
    ]);
  });

  it('rejects an invalid range with upstream’s start-up message', () => {
    expect(problems({ RANGE_START: '0A:00:00:00:00:00', RANGE_END: '02:00:00:00:00:00' })).toEqual([
      'RANGE_START=0A:00:00:00:00:00 RANGE_END=02:00:00:00:00:00: failed to set initial ranges: invalid range. rangeStart: 0a:00:00:00:00:00 rangeEnd: 02:00:00:00:00:00',
    ]);
  });

  it('ignores unrelated variables, so they never reach a message', () => {
    expect(
      problems({ RANGE_START: 'x', RANGE_END: '02:00:00:00:00:01', SECRET_TOKEN: 'hunter2' }).join(),
    ).not.toContain('hunter2');
  });

  it('explains the failure as one message listing every problem', () => {
    const error = new ConfigurationException(['A=1: bad', 'B=2: worse']);
    expect(error.message).toBe('Invalid environment variables:\n  - A=1: bad\n  - B=2: worse');
  });
});
