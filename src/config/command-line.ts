/**
 * Upstream Kubemacpool's command-line flags, so that the Deployments of existing installs (and operators that write
 * them, such as the network add-ons operator) start this manager unchanged. Each flag sets an environment
 * variable's value and wins over the variable; the values are then validated with the environment, so a bad flag
 * is reported by its name, with every other problem, in one message.
 */

/** A flag and the variable it sets; `value` turns the flag's text into the variable's. */
interface FlagSpec {
  variable: string;
  value?: (text: string) => string;
}

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  // Registered by controller-runtime in upstream's binary: the kubeconfig of an out-of-cluster run.
  kubeconfig: { variable: 'KUBECONFIG' },
  // Since upstream v0.51 (PR #603) the metrics are served over HTTPS behind TokenReview and SubjectAccessReview on
  // this address; before, it was plain HTTP on loopback behind a kube-rbac-proxy sidecar (METRICS_ADDR here).
  'metrics-addr': { variable: 'METRICS_SECURE_ADDR' },
  'wait-time': { variable: 'WAIT_TIME' },
  // Upstream: `production` logs JSON at info; any other value is zap's development mode, which logs debug.
  v: { variable: 'LOG_LEVEL', value: (text) => (text === 'production' ? 'log' : 'debug') },
  'tls-min-version': { variable: 'TLS_MIN_VERSION' },
  'tls-cipher-suites': { variable: 'TLS_CIPHER_SUITES' },
  'tls-group-preferences': { variable: 'TLS_GROUP_PREFERENCES' },
};

export const FLAG_NAMES: readonly string[] = Object.keys(FLAGS);
const KNOWN_FLAGS = FLAG_NAMES.map((flag) => `--${flag}`).join(', ');

export interface CommandLine {
  /** Variable values set by flags (they win over the environment). */
  values: Record<string, string>;
  /** For each variable a flag set, how to name it in a message: `--wait-time=abc` (what was typed). */
  shown: Record<string, string>;
  /** Arguments that are no flag of ours, or flags without a value. */
  problems: string[];
}

/**
 * Parses arguments the way Go's flag package does for string and integer flags: `-name=value`, `--name=value`,
 * `-name value` or `--name value`; parsing stops at `--`, and everything after it is reported.
 */
export function parseCommandLine(args: readonly string[]): CommandLine {
  const result: CommandLine = { values: {}, shown: {}, problems: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const match = /^--?([^=-][^=]*)(?:=([\s\S]*))?$/.exec(arg);
    if (match === null) {
      result.problems.push(
        arg === '--' && i + 1 < args.length
          ? `${args.slice(i + 1).join(' ')}: unexpected arguments (the manager takes flags only)`
          : `${arg}: unexpected argument (the manager takes flags only: ${KNOWN_FLAGS})`,
      );
      if (arg === '--') break;
      continue;
    }
    const [, name, inline] = match;
    const spec = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
    if (spec === undefined) {
      result.problems.push(`-${name.length > 1 ? '-' : ''}${name}: unknown flag (known: ${KNOWN_FLAGS})`);
      if (inline === undefined && i + 1 < args.length && !args[i + 1].startsWith('-')) i++;
      continue;
    }
    let text = inline;
    if (text === undefined) {
      if (i + 1 >= args.length) {
        result.problems.push(`--${name}: needs a value (--${name}=<value>)`);
        continue;
      }
      text = args[++i];
    }
    result.values[spec.variable] = spec.value === undefined ? text : spec.value(text);
    result.shown[spec.variable] = `--${name}=${text}`;
  }
  return result;
}
