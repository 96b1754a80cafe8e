import { plainToInstance } from 'class-transformer';
import { validateSync } from './class-validator';
import { createSecureContext } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parseGoDuration } from '../common/go-duration';
import { parseCommandLine } from './command-line';
import { MacRange } from '../modules/pool/mac-range';
import { PoolException } from '../modules/pool/pool.exception';
import {
  type DuplicatePolicy,
  ENVIRONMENT_VARIABLES,
  EnvironmentVariables,
  type LogLevelName,
  splitList,
  type TlsVersionName,
} from './environment';
import { opensslCiphers, opensslGroup, opensslGroups } from './tls-names';

/** A start-up configuration error listing every invalid `NAME=value` and `--flag=value` at once. */
export class ConfigurationException extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (environment variables and flags):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ConfigurationException';
  }
}

export interface ListenAddress {
  /** Empty means every address, IPv6 and IPv4. */
  host: string;
  port: number;
}

/** Certificate life times in milliseconds (upstream's knobs; CA_PROPAGATION_DELAY is ours). */
export interface CertificateSettings {
  caRotateMs: number;
  caOverlapMs: number;
  certRotateMs: number;
  certOverlapMs: number;
  propagationDelayMs: number;
}

/** Leader election (LEADER_ELECTION_*), times in milliseconds. */
export interface LeaderElectionSettings {
  enabled: boolean;
  identity: string;
  /** POD_IP: the address followers reach this replica at when it leads ('' when unknown). */
  advertiseAddress: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** How long a new leader leaves the MACs its predecessors claimed alone (LEADER_ELECTION_HANDOVER_HOLD). */
  handoverHoldMs: number;
}

export interface WebhookSettings {
  port: number;
  /** The address to bind; empty means every address, IPv6 and IPv4. */
  host: string;
  /** The MutatingWebhookConfiguration whose caBundle we manage. */
  configurationName: string;
  extraDnsNames: string[];
  extraIpAddresses: string[];
  tlsMinVersion: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher string (TLS_CIPHER_SUITES); undefined: Node.js's defaults. */
  ciphers?: string;
  /** OpenSSL group list, as Node.js's `ecdhCurve` (TLS_GROUP_PREFERENCES); undefined: Node.js's defaults. */
  groups?: string;
}

/**
 * The TLS options of the webhook server. Pass them to every setSecureContext as well: Node.js's setSecureContext
 * resets the server's minVersion, ciphers and ecdhCurve to its defaults when the options leave them out.
 */
export function webhookTlsOptions(settings: WebhookSettings): {
  minVersion: WebhookSettings['tlsMinVersion'];
  ciphers?: string;
  ecdhCurve?: string;
} {
  return {
    minVersion: settings.tlsMinVersion,
    ...(settings.ciphers === undefined ? {} : { ciphers: settings.ciphers }),
    ...(settings.groups === undefined ? {} : { ecdhCurve: settings.groups }),
  };
}

const TLS_NODE_NAMES: Record<TlsVersionName, WebhookSettings['tlsMinVersion']> = {
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

/** Whether OpenSSL takes these TLS options (a context is made and dropped). */
function usable(options: { ciphers?: string; ecdhCurve?: string }): boolean {
  try {
    createSecureContext(options);
    return true;
  } catch {
    return false;
  }
}

/**
 * A duration variable in milliseconds; NaN when it is invalid (already reported), so that every comparison with it
 * is false and only valid values are checked against each other.
 */
function durationMs(
  vars: EnvironmentVariables,
  invalid: ReadonlySet<string>,
  name: keyof EnvironmentVariables,
): number {
  return invalid.has(name) ? NaN : (parseGoDuration(String(vars[name])) ?? NaN);
}

/** The validated, typed configuration the modules receive through dependency injection. */
export class AppConfig {
  constructor(
    readonly range: MacRange,
    readonly namespace: string,
    /** The manager's Pod, when known (POD_NAME). */
    readonly podName: string,
    readonly webhook: WebhookSettings,
    readonly certificates: CertificateSettings,
    /** The plain-HTTP metrics endpoint (METRICS_ADDR); undefined: off (the default). */
    readonly metrics: ListenAddress | undefined,
    readonly logLevel: LogLevelName,
    readonly duplicatePolicy: DuplicatePolicy,
    /** How long an admitted MAC may stay pending (WAIT_TIME). */
    readonly pendingTimeoutMs: number,
    /** The kubeconfig the --kubeconfig flag names (it wins over KUBECONFIG); undefined without the flag. */
    readonly kubeconfigFlag?: string,
    /** What was asked for but is left out, with why (logged at start). */
    readonly warnings: readonly string[] = [],
    readonly leaderElection: LeaderElectionSettings = {
      enabled: false,
      identity: 'manager',
      advertiseAddress: '',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      handoverHoldMs: 70_000,
    },
    /** The guarded HTTPS metrics endpoint (METRICS_SECURE_ADDR); undefined: off. */
    readonly secureMetrics?: ListenAddress,
  ) {}

  /**
   * Validates the environment and upstream's command-line flags (see command-line.ts: a flag wins over its
   * variable); throws ConfigurationException naming each bad variable or flag and its value. Only the variables
   * this class knows are read, so unrelated environment never appears in messages (no secrets leak).
   */
  static fromEnvironment(env: NodeJS.ProcessEnv, args: readonly string[] = []): AppConfig {
    const input: Record<string, string> = {};
    for (const name of ENVIRONMENT_VARIABLES) {
      const value = env[name];
      if (value !== undefined) input[name] = value;
    }
    const flags = parseCommandLine(args);
    Object.assign(input, flags.values);
    const vars = plainToInstance(EnvironmentVariables, input);
    const invalid = new Set<string>();
    const problems = [
      ...flags.problems,
      ...validateSync(vars, { skipMissingProperties: false }).map((error) => {
        invalid.add(error.property);
        const shown =
          flags.shown[error.property] ??
          `${error.property}=${input[error.property] === undefined ? '(unset)' : input[error.property]}`;
        return `${shown}: ${Object.values(error.constraints ?? {}).join('; ')}`;
      }),
    ];
    const warnings: string[] = [];
    const tls = AppConfig.tlsOptions(vars, invalid, flags.shown, problems, warnings);
    // Cross-field checks run in the same pass, over the variables that are valid on their own, so one message
    // lists every problem: a bad LOG_LEVEL does not hide a range whose start is above its end.
    const certificates = AppConfig.certificateSettings(vars, invalid, problems);
    const leaderElection = AppConfig.leaderElectionSettings(vars, invalid, problems, warnings);
    let range: MacRange | undefined;
    if (!invalid.has('RANGE_START') && !invalid.has('RANGE_END')) {
      try {
        range = MacRange.parse(vars.RANGE_START, vars.RANGE_END);
      } catch (error) {
        if (!(error instanceof PoolException)) throw error;
        problems.push(
          `RANGE_START=${vars.RANGE_START} RANGE_END=${vars.RANGE_END}: failed to set initial ranges: ${error.message}`,
        );
      }
    }
    if (problems.length > 0 || range === undefined) throw new ConfigurationException(problems);

    return new AppConfig(
      range,
      vars.POD_NAMESPACE,
      vars.POD_NAME,
      {
        port: vars.WEBHOOK_PORT,
        host: vars.WEBHOOK_BIND_ADDRESS,
        configurationName: vars.WEBHOOK_CONFIGURATION_NAME,
        extraDnsNames: splitList(vars.WEBHOOK_EXTRA_DNS_NAMES),
        extraIpAddresses: splitList(vars.WEBHOOK_EXTRA_IP_ADDRESSES),
        tlsMinVersion: TLS_NODE_NAMES[vars.TLS_MIN_VERSION],
        ...tls,
      },
      certificates,
      vars.METRICS_ADDR === '' ? undefined : parseListenAddress(vars.METRICS_ADDR),
      vars.LOG_LEVEL,
      vars.DUPLICATE_POLICY,
      vars.WAIT_TIME * 1000,
      flags.values.KUBECONFIG,
      warnings,
      leaderElection,
      AppConfig.secureMetrics(vars, warnings),
    );
  }

  /**
   * The guarded metrics address, or undefined (off). With it on, a plain endpoint reachable from outside the Pod
   * would serve the same metrics to anyone: that is warned about, as it is probably not what was meant.
   */
  private static secureMetrics(vars: EnvironmentVariables, warnings: string[]): ListenAddress | undefined {
    if (vars.METRICS_SECURE_ADDR === '') return undefined;
    const plain = vars.METRICS_ADDR === '' ? undefined : parseListenAddress(vars.METRICS_ADDR);
    if (plain !== undefined && !['127.0.0.1', '::1', 'localhost'].includes(plain.host)) {
      warnings.push(
        `METRICS_SECURE_ADDR=${vars.METRICS_SECURE_ADDR} guards /metrics, but METRICS_ADDR=${vars.METRICS_ADDR} serves the same metrics without authentication beyond loopback; set METRICS_ADDR=127.0.0.1:8080`,
      );
    }
    return parseListenAddress(vars.METRICS_SECURE_ADDR);
  }

  /** The election's times, checked against each other as client-go checks them. */
  private static leaderElectionSettings(
    vars: EnvironmentVariables,
    invalid: ReadonlySet<string>,
    problems: string[],
    warnings: string[],
  ): LeaderElectionSettings {
    const ms = (name: keyof EnvironmentVariables) => durationMs(vars, invalid, name);
    const settings: LeaderElectionSettings = {
      enabled: vars.LEADER_ELECTION === 'true',
      identity:
        vars.LEADER_ELECTION_IDENTITY ||
        vars.POD_NAME ||
        `${hostname().replace(/[^A-Za-z0-9_.-]/g, '-')}_${randomBytes(4).toString('hex')}`,
      advertiseAddress: vars.POD_IP,
      leaseDurationMs: ms('LEADER_ELECTION_LEASE_DURATION'),
      renewDeadlineMs: ms('LEADER_ELECTION_RENEW_DEADLINE'),
      retryPeriodMs: ms('LEADER_ELECTION_RETRY_PERIOD'),
      handoverHoldMs: ms('LEADER_ELECTION_HANDOVER_HOLD'),
    };
    if (vars.POD_IP !== '' && isIP(vars.POD_IP) === 0 && !invalid.has('POD_IP')) {
      problems.push(`POD_IP=${vars.POD_IP}: must be an IP address`);
    }
    if (settings.leaseDurationMs % 1000 !== 0 || settings.leaseDurationMs < 1000) {
      problems.push(
        `LEADER_ELECTION_LEASE_DURATION=${vars.LEADER_ELECTION_LEASE_DURATION}: must be a whole number of seconds, at least 1s (a Lease holds seconds)`,
      );
    }
    if (settings.handoverHoldMs < 1000 && !invalid.has('LEADER_ELECTION_HANDOVER_HOLD')) {
      problems.push(
        `LEADER_ELECTION_HANDOVER_HOLD=${vars.LEADER_ELECTION_HANDOVER_HOLD}: must be at least 1s (the API server's request timeout, 60s by default, plus the watches' lag)`,
      );
    }
    if (settings.handoverHoldMs >= 1000 && settings.handoverHoldMs < 60_000) {
      warnings.push(
        `LEADER_ELECTION_HANDOVER_HOLD=${vars.LEADER_ELECTION_HANDOVER_HOLD} is shorter than the API server's default request timeout (60s): after a hand-over, an answer of the old leader stored later than that could share its MAC with a new allocation`,
      );
    }
    if (settings.renewDeadlineMs >= settings.leaseDurationMs) {
      problems.push(
        `LEADER_ELECTION_RENEW_DEADLINE=${vars.LEADER_ELECTION_RENEW_DEADLINE}: must be shorter than LEADER_ELECTION_LEASE_DURATION=${vars.LEADER_ELECTION_LEASE_DURATION} (a leader stops allocating before another may take over)`,
      );
    }
    if (settings.retryPeriodMs >= settings.renewDeadlineMs) {
      problems.push(
        `LEADER_ELECTION_RETRY_PERIOD=${vars.LEADER_ELECTION_RETRY_PERIOD}: must be shorter than LEADER_ELECTION_RENEW_DEADLINE=${vars.LEADER_ELECTION_RENEW_DEADLINE} (a leader renews several times within the deadline)`,
      );
    }
    return settings;
  }

  /**
   * The OpenSSL names of the cipher suites and groups asked for. A group this Node.js's OpenSSL cannot use
   * (X25519MLKEM768 before OpenSSL 3.5, which the network add-ons operator passes) is left out with a warning, as
   * long as another remains: the Deployment that starts upstream's binary starts this one too.
   */
  private static tlsOptions(
    vars: EnvironmentVariables,
    invalid: ReadonlySet<string>,
    shown: Readonly<Record<string, string>>,
    problems: string[],
    warnings: string[],
  ): Pick<WebhookSettings, 'ciphers' | 'groups'> {
    const named = (variable: 'TLS_CIPHER_SUITES' | 'TLS_GROUP_PREFERENCES') =>
      shown[variable] ?? `${variable}=${vars[variable]}`;
    const openssl = `this Node.js (OpenSSL ${process.versions.openssl})`;
    const ciphers = invalid.has('TLS_CIPHER_SUITES')
      ? undefined
      : opensslCiphers(splitList(vars.TLS_CIPHER_SUITES));
    if (ciphers !== undefined && !usable({ ciphers })) {
      problems.push(`${named('TLS_CIPHER_SUITES')}: not supported by ${openssl}`);
    }
    const asked = invalid.has('TLS_GROUP_PREFERENCES') ? [] : splitList(vars.TLS_GROUP_PREFERENCES);
    const supported = asked.filter((name) => usable({ ecdhCurve: opensslGroup(name) }));
    const left = [...new Set(asked.filter((name) => !supported.includes(name)))];
    if (asked.length > 0 && supported.length === 0) {
      problems.push(`${named('TLS_GROUP_PREFERENCES')}: none of these groups is supported by ${openssl}`);
    } else if (left.length > 0) {
      warnings.push(
        `${named('TLS_GROUP_PREFERENCES')}: ${left.join(', ')} not supported by ${openssl}, left out`,
      );
    }
    return { ciphers, groups: opensslGroups(supported) };
  }

  /**
   * The intervals must nest: an overlap shorter than what it overlaps (an overlap as long as the life time would
   * renew without pause), a serving certificate that does not outlive its CA, and a propagation delay that ends
   * before the old CA or certificate does.
   */
  private static certificateSettings(
    vars: EnvironmentVariables,
    invalid: ReadonlySet<string>,
    problems: string[],
  ): CertificateSettings {
    // An invalid interval (already reported) is NaN, and every comparison with NaN is false: only pairs of valid
    // intervals are checked against each other.
    const ms = (name: keyof EnvironmentVariables) => durationMs(vars, invalid, name);
    const settings: CertificateSettings = {
      caRotateMs: ms('CA_ROTATE_INTERVAL'),
      caOverlapMs: ms('CA_OVERLAP_INTERVAL'),
      certRotateMs: ms('CERT_ROTATE_INTERVAL'),
      certOverlapMs: ms('CERT_OVERLAP_INTERVAL'),
      propagationDelayMs: ms('CA_PROPAGATION_DELAY'),
    };
    const shorter = (name: keyof EnvironmentVariables, than: keyof EnvironmentVariables, why: string) =>
      problems.push(`${name}=${vars[name]}: must be shorter than ${than}=${vars[than]} (${why})`);
    if (settings.caOverlapMs >= settings.caRotateMs) {
      shorter('CA_OVERLAP_INTERVAL', 'CA_ROTATE_INTERVAL', 'the overlap is part of the CA life time');
    }
    if (settings.certOverlapMs >= settings.certRotateMs) {
      shorter(
        'CERT_OVERLAP_INTERVAL',
        'CERT_ROTATE_INTERVAL',
        'the overlap is part of the certificate life time',
      );
    }
    if (settings.certRotateMs > settings.caRotateMs) {
      problems.push(
        `CERT_ROTATE_INTERVAL=${vars.CERT_ROTATE_INTERVAL}: must not be longer than CA_ROTATE_INTERVAL=${vars.CA_ROTATE_INTERVAL} (a serving certificate cannot outlive its CA)`,
      );
    }
    if (settings.certOverlapMs > settings.caOverlapMs) {
      problems.push(
        `CERT_OVERLAP_INTERVAL=${vars.CERT_OVERLAP_INTERVAL}: must not be longer than CA_OVERLAP_INTERVAL=${vars.CA_OVERLAP_INTERVAL} (a certificate cut short by its CA's end would fall due before the CA rotates)`,
      );
    }
    if (settings.propagationDelayMs >= settings.caOverlapMs) {
      shorter(
        'CA_PROPAGATION_DELAY',
        'CA_OVERLAP_INTERVAL',
        'the old CA must stay trusted until the new one is served',
      );
    }
    if (settings.propagationDelayMs >= settings.certOverlapMs) {
      shorter(
        'CA_PROPAGATION_DELAY',
        'CERT_OVERLAP_INTERVAL',
        'a renewed certificate must be served before the old one expires',
      );
    }
    return settings;
  }
}

function parseListenAddress(address: string): ListenAddress {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(address.slice(colon + 1)) };
}
