import 'reflect-metadata';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  Matches,
  Max,
  Min,
  registerDecorator,
  type ValidationArguments,
  type ValidationOptions,
} from 'class-validator';
import { Type } from 'class-transformer';
import { MacAddress } from '../modules/pool/mac-address';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** What to do with a requested MAC that another object already holds (SPEC.md §13, DESIGN.md §3). */
export const DUPLICATE_POLICIES = ['Warn', 'Reject'] as const;
export type DuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];

/** A MAC in any notation MacAddress accepts (absence is left to IsNotEmpty); the message is upstream's parse error. */
function IsMacAddress(options?: ValidationOptions) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isMacAddress',
      target: target.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) =>
          value === undefined ||
          value === '' ||
          (typeof value === 'string' && MacAddress.tryParseValue(value) !== undefined),
        defaultMessage: (args?: ValidationArguments) => `address ${String(args?.value)}: invalid MAC address`,
      },
    });
}

/**
 * The manager's configuration, read from the environment. Each property is one variable, its initialiser the
 * default; a variable without a default is required. See README.md "Configuration".
 */
export class EnvironmentVariables {
  /** First MAC of the pool (upstream name; the ConfigMap `kubemacpool-mac-range-config` feeds it in a cluster). */
  @IsNotEmpty({ message: 'is required, for example 02:00:00:00:00:00' })
  @IsMacAddress()
  RANGE_START!: string;

  /** Last MAC of the pool, included. */
  @IsNotEmpty({ message: 'is required, for example 02:ff:ff:ff:ff:ff' })
  @IsMacAddress()
  RANGE_END!: string;

  /** HTTPS port of the admission webhooks (upstream's constant 8000). */
  @Type(() => Number)
  @IsInt({ message: 'must be a whole number' })
  @Min(1, { message: 'must be a port from 1 to 65535' })
  @Max(65535, { message: 'must be a port from 1 to 65535' })
  WEBHOOK_PORT = 8000;

  /** `[host]:port` of the plain-HTTP metrics endpoint; an empty host listens on every address, port 0 on a free port. */
  @Matches(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/,
    {
      message: 'must be [host]:port, for example :8080 or 127.0.0.1:8080',
    },
  )
  METRICS_ADDR = ':8080';

  /** The lowest level logged: fatal, error, warn, log (info), debug or verbose. */
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: LogLevelName = 'log';

  /** Requested MACs another object holds: `Warn` admits with a warning, `Reject` denies. */
  @IsIn(DUPLICATE_POLICIES, { message: `must be one of ${DUPLICATE_POLICIES.join(', ')}` })
  DUPLICATE_POLICY: DuplicatePolicy = 'Warn';
}

/** Every variable this class reads, the required ones included. */
export const ENVIRONMENT_VARIABLES: readonly string[] = [
  ...new Set(['RANGE_START', 'RANGE_END', ...Object.keys(new EnvironmentVariables())]),
];
