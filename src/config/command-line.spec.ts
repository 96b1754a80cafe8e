import { AppConfig, ConfigurationException } from './app-config';
import { parseCommandLine } from './command-line';

const RANGE = { RANGE_START: '02:00:00:00:00:00', RANGE_END: '02:00:00:00:ff:ff' };

function problemsOf(env: Record<string, string>, args: string[]): string[] {
  try {
    AppConfig.fromEnvironment(env, args);
  } catch (error) {
    if (error instanceof ConfigurationException) return error.problems;
    throw error;
  }
  return [];
}

describe('parseCommandLine', () => {
  it("reads upstream's flags in every form Go's flag package accepts", () => {
    expect(
      parseCommandLine([
        '--v=production',
        '-wait-time=300',
        '--metrics-addr',
        '127.0.0.1:9090',
        '-tls-min-version',
        'VersionTLS13',
        '--tls-cipher-suites=',
      ]),
    ).toEqual({
      values: {
        LOG_LEVEL: 'log',
        WAIT_TIME: '300',
        METRICS_SECURE_ADDR: '127.0.0.1:9090',
        TLS_MIN_VERSION: 'VersionTLS13',
        TLS_CIPHER_SUITES: '',
      },
      shown: {
        LOG_LEVEL: '--v=production',
        WAIT_TIME: '--wait-time=300',
        METRICS_SECURE_ADDR: '--metrics-addr=127.0.0.1:9090',
        TLS_MIN_VERSION: '--tls-min-version=VersionTLS13',
        TLS_CIPHER_SUITES: '--tls-cipher-suites=',
      },
      problems: [],
    });
  });

  it('maps --v as upstream does: production logs at info, anything else is development mode (debug)', () => {
    expect(parseCommandLine(['--v=production']).values.LOG_LEVEL).toBe('log');
    expect(parseCommandLine(['--v=debug']).values.LOG_LEVEL).toBe('debug');
    expect(parseCommandLine(['--v=anything']).values.LOG_LEVEL).toBe('debug');
  });

  it('names unknown flags, flags without a value and stray arguments, all at once', () => {
    expect(
      parseCommandLine(['--bogus=1', '--wait-time', 'x', '-q', 'value', 'extra', '--metrics-addr']).problems,
    ).toEqual([
      expect.stringMatching(
        /^--bogus: unknown flag \(known: --kubeconfig, --metrics-addr, --wait-time, --v, /,
      ),
      expect.stringMatching(/^-q: unknown flag/),
      expect.stringMatching(/^extra: unexpected argument/),
      '--metrics-addr: needs a value (--metrics-addr=<value>)',
    ]);
    // Names of Object.prototype are no flags either.
    expect(parseCommandLine(['--constructor=1', '-toString', 'x']).problems).toEqual([
      expect.stringMatching(/^--constructor: unknown flag/),
      expect.stringMatching(/^--toString: unknown flag/),
    ]);
    expect(parseCommandLine(['--', 'a', 'b']).problems).toEqual([
      'a b: unexpected arguments (the manager takes flags only)',
    ]);
  });
});

describe('AppConfig with flags', () => {
  it("starts with upstream's release Deployment args and lets flags win over the environment", () => {
    const config = AppConfig.fromEnvironment({ ...RANGE, WAIT_TIME: '10', METRICS_SECURE_ADDR: ':9443' }, [
      '--v=production',
      '--wait-time=300',
      '--metrics-addr=127.0.0.1:8081',
      '--tls-min-version=VersionTLS12',
      '--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_AES_128_GCM_SHA256',
      '--tls-group-preferences=X25519,CurveP256',
    ]);
    expect(config.pendingTimeoutMs).toBe(300_000);
    expect(config.logLevel).toBe('log');
    // Upstream's meaning since v0.51: the guarded HTTPS endpoint.
    expect(config.secureMetrics).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(config.metrics).toBeUndefined();
    expect(config.webhook.tlsMinVersion).toBe('TLSv1.2');
    expect(config.webhook.ciphers).toBe(
      'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:' +
        'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305',
    );
    expect(config.webhook.groups).toBe('X25519:P-256');
  });

  it('takes the post-quantum hybrid group where OpenSSL has it (3.5 and later), and leaves it out with a warning where not', () => {
    const [major, minor] = process.versions.openssl.split('.').map(Number);
    // What the network add-ons operator passes for its TLS profiles.
    const config = AppConfig.fromEnvironment(RANGE, [
      '--tls-group-preferences=X25519MLKEM768,X25519,CurveP256,CurveP384,X25519',
    ]);
    if (major > 3 || (major === 3 && minor >= 5)) {
      expect(config.webhook.groups).toBe('X25519MLKEM768:X25519:P-256:P-384');
      expect(config.warnings).toEqual([]);
    } else {
      expect(config.webhook.groups).toBe('X25519:P-256:P-384');
      expect(config.warnings).toEqual([
        expect.stringMatching(
          /^--tls-group-preferences=X25519MLKEM768,X25519,CurveP256,CurveP384,X25519: X25519MLKEM768 not supported by this Node\.js \(OpenSSL 3\.\d+\.\d+\), left out$/,
        ),
      ]);
      expect(problemsOf(RANGE, ['--tls-group-preferences=X25519MLKEM768'])).toEqual([
        expect.stringMatching(/^--tls-group-preferences=X25519MLKEM768: none of these groups is supported/),
      ]);
    }
  });

  it('takes the kubeconfig flag upstream has from controller-runtime', () => {
    expect(AppConfig.fromEnvironment(RANGE, ['--kubeconfig=/etc/kube/config']).kubeconfigFlag).toBe(
      '/etc/kube/config',
    );
    expect(AppConfig.fromEnvironment(RANGE).kubeconfigFlag).toBeUndefined();
  });

  it('leaves cipher suites and groups to Node.js when none are given', () => {
    const config = AppConfig.fromEnvironment(RANGE, ['--tls-cipher-suites=']);
    expect(config.webhook.ciphers).toBeUndefined();
    expect(config.webhook.groups).toBeUndefined();
  });

  it('names a bad flag by the flag, with every other problem, in one message', () => {
    const problems = problemsOf({ ...RANGE, LOG_LEVEL: 'chatty' }, [
      '--wait-time=soon',
      '--tls-min-version=VersionTLS10',
      '--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      '--tls-group-preferences=CurveP224',
      '--unknown',
    ]);
    expect(problems).toEqual([
      expect.stringMatching(/^--unknown: unknown flag/),
      expect.stringMatching(/^LOG_LEVEL=chatty: must be one of/),
      expect.stringMatching(/^--tls-min-version=VersionTLS10: must be one of VersionTLS12, VersionTLS13$/),
      expect.stringMatching(
        /^--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: must be a comma-separated list of Go cipher-suite names/,
      ),
      expect.stringMatching(
        /^--tls-group-preferences=CurveP224: must be a comma-separated list of Go group names/,
      ),
      expect.stringMatching(/^--wait-time=soon: must be /),
    ]);
  });
});
