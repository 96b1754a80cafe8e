import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import {
  type DuplicatePolicy,
  ENVIRONMENT_VARIABLES,
  EnvironmentVariables,
  type LogLevelName,
} from './environment';
import { MacRange } from '../modules/pool/mac-range';
import { PoolException } from '../modules/pool/pool.exception';

/** A start-up configuration error listing every invalid `NAME=value` at once. */
export class ConfigurationException extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment variables:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigurationException';
  }
}

export interface ListenAddress {
  host: string;
  port: number;
}

/** The validated, typed configuration the modules receive through dependency injection. */
export class AppConfig {
  constructor(
    readonly range: MacRange,
    readonly webhookPort: number,
    readonly metrics: ListenAddress,
    readonly logLevel: LogLevelName,
    readonly duplicatePolicy: DuplicatePolicy,
  ) {}

  /**
   * Validates the environment; throws ConfigurationException naming each bad variable and its value. Only the
   * variables this class knows are read, so unrelated environment never appears in messages (no secrets leak).
   */
  static fromEnvironment(env: NodeJS.ProcessEnv): AppConfig {
    const input: Record<string, string> = {};
    for (const name of ENVIRONMENT_VARIABLES) {
      const value = env[name];
      if (value !== undefined) input[name] = value;
    }
    const vars = plainToInstance(EnvironmentVariables, input);
    const problems = validateSync(vars, { skipMissingProperties: false }).map((error) => {
      const shown = input[error.property] === undefined ? '(unset)' : input[error.property];
      return `${error.property}=${shown}: ${Object.values(error.constraints ?? {}).join('; ')}`;
    });
    if (problems.length > 0) throw new ConfigurationException(problems);

    let range: MacRange;
    try {
      range = MacRange.parse(vars.RANGE_START, vars.RANGE_END);
    } catch (error) {
      if (!(error instanceof PoolException)) throw error;
      throw new ConfigurationException([
        `RANGE_START=${vars.RANGE_START} RANGE_END=${vars.RANGE_END}: failed to set initial ranges: ${error.message}`,
      ]);
    }
    return new AppConfig(
      range,
      vars.WEBHOOK_PORT,
      parseListenAddress(vars.METRICS_ADDR),
      vars.LOG_LEVEL,
      vars.DUPLICATE_POLICY,
    );
  }
}

function parseListenAddress(address: string): ListenAddress {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host: host === '' ? '0.0.0.0' : host, port: Number(address.slice(colon + 1)) };
}
