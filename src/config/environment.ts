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
} from './class-validator';
import { Type } from 'class-transformer';
import { isIP } from 'node:net';
import { parseGoDuration } from '../common/go-duration';
import { MacAddress } from '../modules/pool/mac-address';
import { TLS_GROUP_NAMES, TLS_SUITE_NAMES } from './tls-names';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** What to do with a requested MAC that another object already holds: admit with a warning, or deny. */
export const DUPLICATE_POLICIES = ['Warn', 'Reject'] as const;
export type DuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];

/** A property decorator from a check and a message (class-validator's custom-decorator boilerplate, once). */
function rule(name: string, validate: (value: unknown) => boolean, message: (value: unknown) => string) {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName,
      validator: { validate, defaultMessage: (args?: ValidationArguments) => message(args?.value) },
    });
}

/** A MAC in any notation MacAddress accepts (absence is left to IsNotEmpty); the message is upstream's parse error. */
export const IsMacAddress = () =>
  rule(
    'isMacAddress',
    (value) =>
      value === undefined ||
      value === '' ||
      (typeof value === 'string' && MacAddress.tryParseValue(value) !== undefined),
    (value) => `address ${String(value)}: invalid MAC address`,
  );

/** An IPv4 or IPv6 address to bind, or empty for every address. */
const IsBindAddress = () =>
  rule(
    'isBindAddress',
    (value) => value === '' || (typeof value === 'string' && isIP(value) !== 0),
    () => 'must be an IPv4 or IPv6 address (for example 0.0.0.0 or ::), or empty for every address',
  );

export const TLS_VERSIONS = ['VersionTLS12', 'VersionTLS13'] as const;
export type TlsVersionName = (typeof TLS_VERSIONS)[number];

/** A Go duration string (`8760h0m0s`, `24h`, `30s`) longer than zero. */
const IsGoDuration = () =>
  rule(
    'isGoDuration',
    (value) => typeof value === 'string' && (parseGoDuration(value) ?? 0) > 0,
    () => 'must be a Go duration above zero, for example 8760h0m0s, 24h or 90s',
  );

/** A comma-separated list whose every element passes `check`; empty means none. */
const IsCommaList = (check: (item: string) => boolean, what: string) =>
  rule(
    'isCommaList',
    (value) => typeof value === 'string' && splitList(value).every(check),
    () => `must be a comma-separated list of ${what}`,
  );

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

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

  /** HTTPS port of the admission webhooks and /healthz, /readyz (upstream's constant 8000); 0 picks a free port. */
  @Type(() => Number)
  @IsInt({ message: 'must be a whole number' })
  @Min(0, { message: 'must be a port from 0 to 65535 (0: a free port)' })
  @Max(65535, { message: 'must be a port from 0 to 65535 (0: a free port)' })
  WEBHOOK_PORT = 8000;

  /**
   * Address the webhook server binds. Empty: every address, IPv6 and IPv4 alike (`::`, falling back to `0.0.0.0`
   * where the kernel has no IPv6), so single-stack IPv6, single-stack IPv4 and dual-stack clusters all reach it.
   */
  @IsBindAddress()
  WEBHOOK_BIND_ADDRESS = '';

  /**
   * `[host]:port` of the plain-HTTP metrics endpoint, for a sidecar in the Pod (kube-rbac-proxy) or a local run; an
   * empty host listens on every address (IPv6 and IPv4), port 0 on a free port. Empty (the default): off.
   */
  @Matches(
    /^$|^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/,
    {
      message: 'must be empty or [host]:port, for example 127.0.0.1:8080',
    },
  )
  METRICS_ADDR = '';

  /**
   * `[host]:port` of the guarded metrics endpoint (upstream's `--metrics-addr`, `:8443`): `/metrics` over HTTPS (the
   * webhook's certificate and TLS settings) for bearer tokens that the API server authenticates (TokenReview) and
   * authorises to `get /metrics` (SubjectAccessReview). Empty: off.
   */
  @Matches(
    /^$|^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$/,
    { message: 'must be empty or [host]:port, for example :8443' },
  )
  METRICS_SECURE_ADDR = ':8443';

  /** The lowest level logged: fatal, error, warn, log (info), debug or verbose. */
  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: LogLevelName = 'log';

  /** Namespace of the manager: its Secrets and the range ConfigMap live there (a fieldRef in a cluster). */
  @Matches(DNS_LABEL, { message: 'must be a namespace name (a DNS-1123 label)' })
  POD_NAMESPACE = 'kubemacpool-system';

  /** Name of the manager's Pod (a fieldRef in a cluster); Events about the range ConfigMap are recorded on it. */
  @Matches(/^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { message: 'must be a Pod name' })
  POD_NAME = '';

  /**
   * The Pod's IP address (a fieldRef to status.podIP in a cluster): the leader publishes `https://<POD_IP>:<port>` in
   * the Lease, where the other replicas forward the requests that need the pool. Empty: not published, and
   * followers deny such requests as retryable instead.
   */
  @Matches(/^$|^[0-9a-fA-F:.]+$/, { message: 'must be an IP address' })
  POD_IP = '';

  /** Validity of the webhook CA; a new CA is made CA_OVERLAP_INTERVAL before it ends (upstream defaults). */
  @IsGoDuration()
  CA_ROTATE_INTERVAL = '8760h0m0s';

  /** How long before the CA expires a new one is made; both stay trusted in caBundle meanwhile. */
  @IsGoDuration()
  CA_OVERLAP_INTERVAL = '24h0m0s';

  /** Validity of the serving certificate. */
  @IsGoDuration()
  CERT_ROTATE_INTERVAL = '4380h0m0s';

  /** How long before the serving certificate expires a new one is served. */
  @IsGoDuration()
  CERT_OVERLAP_INTERVAL = '24h0m0s';

  /**
   * How long a new CA sits in caBundle before a certificate it signed is served, so every API server has the new
   * bundle before it meets the new certificate (not an upstream knob).
   */
  @IsGoDuration()
  CA_PROPAGATION_DELAY = '10s';

  /**
   * Name of the MutatingWebhookConfiguration whose caBundle is managed; the CA Secret is `<name>-ca`. Keep the
   * upstream name in a cluster; tests running side by side use their own.
   */
  @Matches(DNS_SUBDOMAIN, { message: 'must be a DNS-1123 subdomain' })
  WEBHOOK_CONFIGURATION_NAME = 'kubemacpool-mutator';

  /** DNS names the serving certificate carries besides the kubemacpool-service names (comma-separated). */
  @IsCommaList((item) => DNS_SUBDOMAIN.test(item), 'DNS names')
  WEBHOOK_EXTRA_DNS_NAMES = '';

  /** IP addresses the serving certificate carries (comma-separated), e.g. 127.0.0.1 for a url clientConfig. */
  @IsCommaList((item) => isIP(item) !== 0, 'IP addresses')
  WEBHOOK_EXTRA_IP_ADDRESSES = '';

  /** Lowest TLS version the webhook server accepts (Go constant names, as upstream's --tls-min-version). */
  @IsIn(TLS_VERSIONS, { message: `must be one of ${TLS_VERSIONS.join(', ')}` })
  TLS_MIN_VERSION: TlsVersionName = 'VersionTLS12';

  /**
   * TLS 1.2 cipher suites the webhook server offers, comma-separated Go names (upstream's --tls-cipher-suites);
   * empty: Node.js's defaults. TLS 1.3 suites are always on, as in Go.
   */
  @IsCommaList(
    (item) => TLS_SUITE_NAMES.includes(item),
    `Go cipher-suite names of ECDHE suites with AES-GCM or ChaCha20-Poly1305, or TLS 1.3 suites (${TLS_SUITE_NAMES.join(', ')})`,
  )
  TLS_CIPHER_SUITES = '';

  /** Key-exchange groups in order of preference, comma-separated Go names; empty: Node.js's defaults. */
  @IsCommaList((item) => TLS_GROUP_NAMES.includes(item), `Go group names (${TLS_GROUP_NAMES.join(', ')})`)
  TLS_GROUP_PREFERENCES = '';

  /**
   * Seconds an admitted MAC stays pending before it is checked against the API and released if no persisted object
   * holds it (upstream's --wait-time; its manifests use 300).
   */
  @Type(() => Number)
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1, { message: 'must be at least 1 second' })
  WAIT_TIME = 600;

  /** Requested MACs another object holds: `Warn` admits with a warning, `Reject` denies. */
  @IsIn(DUPLICATE_POLICIES, { message: `must be one of ${DUPLICATE_POLICIES.join(', ')}` })
  DUPLICATE_POLICY: DuplicatePolicy = 'Warn';

  /**
   * Leader election on the Lease `kubemacpool-mac-controller-manager` in POD_NAMESPACE: only the leader allocates.
   * `false` makes this replica allocate without one, which is safe with a single replica only.
   */
  @IsIn(['true', 'false'], { message: 'must be true or false' })
  LEADER_ELECTION = 'true';

  /** How long a Lease nobody renews stays another replica's (whole seconds, client-go's default). */
  @IsGoDuration()
  LEADER_ELECTION_LEASE_DURATION = '15s';

  /** A leader that could not renew for this long stops allocating; shorter than the lease duration. */
  @IsGoDuration()
  LEADER_ELECTION_RENEW_DEADLINE = '10s';

  /** How often the leader renews and the others try to acquire; shorter than the renew deadline. */
  @IsGoDuration()
  LEADER_ELECTION_RETRY_PERIOD = '2s';

  /**
   * How long a new leader leaves alone the stretches of the range its predecessors claimed (they may have admitted
   * objects that are not persisted yet): at least the API server's request timeout (60 s by default) plus the lag of
   * the watches.
   */
  @IsGoDuration()
  LEADER_ELECTION_HANDOVER_HOLD = '70s';

  /** This replica's name in the Lease; default POD_NAME, else the host name and a random suffix. */
  @Matches(/^$|^[A-Za-z0-9][-A-Za-z0-9_.]{0,252}$/, {
    message: 'must be a name of letters, digits, -, _ and .',
  })
  LEADER_ELECTION_IDENTITY = '';
}

/** Every variable this class reads, the required ones included. */
export const ENVIRONMENT_VARIABLES: readonly string[] = [
  ...new Set(['RANGE_START', 'RANGE_END', ...Object.keys(new EnvironmentVariables())]),
];
