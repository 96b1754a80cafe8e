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
    expect(config.webhook.port).toBe(8000);
    // Upstream's since v0.51: metrics only over HTTPS behind Kubernetes authentication, on :8443.
    expect(config.metrics).toBeUndefined();
    expect(config.secureMetrics).toEqual({ host: '', port: 8443 });
    expect(config.warnings).toEqual([]);
    expect(config.webhook.host).toBe('');
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
    expect(config.webhook.port).toBe(9443);
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
        'WEBHOOK_PORT=70000: must be a port from 0 to 65535 (0: a free port)',
        expect.stringMatching(/^METRICS_ADDR=localhost: must be empty or \[host\]:port/),
        expect.stringMatching(/^LOG_LEVEL=chatty: must be one of fatal, error/),
        'DUPLICATE_POLICY=warn: must be one of Warn, Reject',
      ]),
    );
  });

  it('lists cross-field problems in the same message as single-variable ones', () => {
    expect(
      problems({
        RANGE_START: '02:00:00:00:00:ff',
        RANGE_END: '02:00:00:00:00:00',
        LOG_LEVEL: 'chatty',
        CA_OVERLAP_INTERVAL: '9000h',
      }),
    ).toEqual([
      expect.stringMatching(/^LOG_LEVEL=chatty: must be one of/),
      'CA_OVERLAP_INTERVAL=9000h: must be shorter than CA_ROTATE_INTERVAL=8760h0m0s (the overlap is part of the CA life time)',
      expect.stringMatching(
        /^RANGE_START=02:00:00:00:00:ff RANGE_END=02:00:00:00:00:00: failed to set initial ranges: /,
      ),
    ]);
  });

  it('does not compare an invalid interval with the others', () => {
    expect(problems({ ...valid, CA_OVERLAP_INTERVAL: 'soon' })).toEqual([
      expect.stringMatching(/^CA_OVERLAP_INTERVAL=soon: must be a Go duration/),
    ]);
  });

  it('binds every address by default and takes an IPv4 or IPv6 bind address', () => {
    expect(AppConfig.fromEnvironment({ ...valid, WEBHOOK_BIND_ADDRESS: '::' }).webhook.host).toBe('::');
    expect(AppConfig.fromEnvironment({ ...valid, WEBHOOK_BIND_ADDRESS: '10.0.0.1' }).webhook.host).toBe(
      '10.0.0.1',
    );
    expect(problems({ ...valid, WEBHOOK_BIND_ADDRESS: 'localhost' })).toEqual([
      expect.stringMatching(/^WEBHOOK_BIND_ADDRESS=localhost: must be an IPv4 or IPv6 address/),
    ]);
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
    expect(error.message).toBe(
      'Invalid configuration (environment variables and flags):\n  - A=1: bad\n  - B=2: worse',
    );
  });
});

describe('AppConfig certificate and webhook settings', () => {
  it('applies upstream’s certificate defaults', () => {
    const config = AppConfig.fromEnvironment(valid);
    expect(config.certificates).toEqual({
      caRotateMs: 8760 * 3_600_000,
      caOverlapMs: 24 * 3_600_000,
      certRotateMs: 4380 * 3_600_000,
      certOverlapMs: 24 * 3_600_000,
      propagationDelayMs: 10_000,
    });
    expect(config.namespace).toBe('kubemacpool-system');
    expect(config.webhook).toEqual({
      port: 8000,
      host: '',
      configurationName: 'kubemacpool-mutator',
      extraDnsNames: [],
      extraIpAddresses: [],
      tlsMinVersion: 'TLSv1.2',
    });
  });

  it('reads extra SANs, the namespace and the TLS floor', () => {
    const config = AppConfig.fromEnvironment({
      ...valid,
      POD_NAMESPACE: 'kmp',
      WEBHOOK_EXTRA_DNS_NAMES: 'localhost, webhook.example.com',
      WEBHOOK_EXTRA_IP_ADDRESSES: '127.0.0.1,::1',
      TLS_MIN_VERSION: 'VersionTLS13',
    });
    expect(config.namespace).toBe('kmp');
    expect(config.webhook.extraDnsNames).toEqual(['localhost', 'webhook.example.com']);
    expect(config.webhook.extraIpAddresses).toEqual(['127.0.0.1', '::1']);
    expect(config.webhook.tlsMinVersion).toBe('TLSv1.3');
  });

  it('names malformed durations, SANs and TLS versions', () => {
    expect(
      problems({
        ...valid,
        CA_ROTATE_INTERVAL: '1y',
        CERT_OVERLAP_INTERVAL: '0s',
        WEBHOOK_EXTRA_IP_ADDRESSES: '127.0.0.1,localhost',
        WEBHOOK_EXTRA_DNS_NAMES: 'UPPER.example',
        TLS_MIN_VERSION: 'VersionTLS10',
        POD_NAMESPACE: 'Bad_NS',
      }),
    ).toEqual([
      'POD_NAMESPACE=Bad_NS: must be a namespace name (a DNS-1123 label)',
      'CA_ROTATE_INTERVAL=1y: must be a Go duration above zero, for example 8760h0m0s, 24h or 90s',
      'CERT_OVERLAP_INTERVAL=0s: must be a Go duration above zero, for example 8760h0m0s, 24h or 90s',
      'WEBHOOK_EXTRA_DNS_NAMES=UPPER.example: must be a comma-separated list of DNS names',
      'WEBHOOK_EXTRA_IP_ADDRESSES=127.0.0.1,localhost: must be a comma-separated list of IP addresses',
      'TLS_MIN_VERSION=VersionTLS10: must be one of VersionTLS12, VersionTLS13',
    ]);
  });

  it('refuses an overlap as long as the rotation and a certificate that outlives its CA', () => {
    expect(
      problems({
        ...valid,
        CA_ROTATE_INTERVAL: '24h',
        CA_OVERLAP_INTERVAL: '48h',
        CERT_ROTATE_INTERVAL: '48h',
        CERT_OVERLAP_INTERVAL: '48h',
      }),
    ).toEqual([
      'CA_OVERLAP_INTERVAL=48h: must be shorter than CA_ROTATE_INTERVAL=24h (the overlap is part of the CA life time)',
      'CERT_OVERLAP_INTERVAL=48h: must be shorter than CERT_ROTATE_INTERVAL=48h (the overlap is part of the certificate life time)',
      'CERT_ROTATE_INTERVAL=48h: must not be longer than CA_ROTATE_INTERVAL=24h (a serving certificate cannot outlive its CA)',
    ]);
  });

  it('refuses a propagation delay that outlasts an overlap', () => {
    expect(problems({ ...valid, CERT_OVERLAP_INTERVAL: '5s' })).toEqual([
      'CA_PROPAGATION_DELAY=10s: must be shorter than CERT_OVERLAP_INTERVAL=5s (a renewed certificate must be served before the old one expires)',
    ]);
  });

  it('accepts upstream’s manifest values', () => {
    const config = AppConfig.fromEnvironment({
      ...valid,
      CA_ROTATE_INTERVAL: '8760h0m0s',
      CA_OVERLAP_INTERVAL: '24h0m0s',
      CERT_ROTATE_INTERVAL: '4380h0m0s',
      CERT_OVERLAP_INTERVAL: '24h0m0s',
    });
    expect(config.certificates.certRotateMs).toBe(4380 * 3_600_000);
  });
});

describe('AppConfig leader election settings', () => {
  it('elects by default with client-go’s times, named after the Pod', () => {
    expect(AppConfig.fromEnvironment({ ...valid, POD_NAME: 'kmp-0' }).leaderElection).toEqual({
      enabled: true,
      identity: 'kmp-0',
      advertiseAddress: '',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      handoverHoldMs: 70_000,
    });
  });

  it('names itself after the host and a random suffix without a Pod name, and takes an identity and off', () => {
    const a = AppConfig.fromEnvironment(valid).leaderElection.identity;
    expect(a).toMatch(/^[A-Za-z0-9_.-]+_[0-9a-f]{8}$/);
    expect(AppConfig.fromEnvironment(valid).leaderElection.identity).not.toBe(a);
    const off = AppConfig.fromEnvironment({
      ...valid,
      LEADER_ELECTION: 'false',
      LEADER_ELECTION_IDENTITY: 'x',
    });
    expect(off.leaderElection).toMatchObject({ enabled: false, identity: 'x' });
    expect(AppConfig.fromEnvironment({ ...valid, POD_IP: 'fd00::7' }).leaderElection.advertiseAddress).toBe(
      'fd00::7',
    );
    expect(problems({ ...valid, POD_IP: '1.2.3' })).toEqual(['POD_IP=1.2.3: must be an IP address']);
  });

  it('warns when the guarded metrics endpoint is on and the plain one is reachable beyond loopback', () => {
    const open = AppConfig.fromEnvironment({ ...valid, METRICS_ADDR: ':8080' });
    expect(open.secureMetrics).toEqual({ host: '', port: 8443 });
    expect(open.warnings).toEqual([
      'METRICS_SECURE_ADDR=:8443 guards /metrics, but METRICS_ADDR=:8080 serves the same metrics without authentication beyond loopback; set METRICS_ADDR=127.0.0.1:8080',
    ]);
    const closed = AppConfig.fromEnvironment({
      ...valid,
      METRICS_SECURE_ADDR: ':8443',
      METRICS_ADDR: '127.0.0.1:8080',
    });
    expect(closed.warnings).toEqual([]);
    const off = AppConfig.fromEnvironment({ ...valid, METRICS_SECURE_ADDR: '', METRICS_ADDR: ':8080' });
    expect(off.secureMetrics).toBeUndefined();
    expect(off.metrics).toEqual({ host: '', port: 8080 });
    expect(off.warnings).toEqual([]);
  });

  it('warns of a hand-over hold shorter than the API server’s request timeout', () => {
    const config = AppConfig.fromEnvironment({ ...valid, LEADER_ELECTION_HANDOVER_HOLD: '10s' });
    expect(config.leaderElection.handoverHoldMs).toBe(10_000);
    expect(config.warnings).toContainEqual(
      expect.stringContaining(
        "LEADER_ELECTION_HANDOVER_HOLD=10s is shorter than the API server's default request timeout (60s)",
      ),
    );
    expect(AppConfig.fromEnvironment(valid).warnings).toEqual([]);
  });

  it('refuses a fence that would not hold, and a lease of part of a second, with the other problems', () => {
    expect(
      problems({
        ...valid,
        LEADER_ELECTION: 'yes',
        LEADER_ELECTION_LEASE_DURATION: '1500ms',
        LEADER_ELECTION_RENEW_DEADLINE: '2s',
        LEADER_ELECTION_RETRY_PERIOD: '2s',
        LEADER_ELECTION_HANDOVER_HOLD: '500ms',
      }),
    ).toEqual([
      'LEADER_ELECTION=yes: must be true or false',
      'LEADER_ELECTION_LEASE_DURATION=1500ms: must be a whole number of seconds, at least 1s (a Lease holds seconds)',
      "LEADER_ELECTION_HANDOVER_HOLD=500ms: must be at least 1s (the API server's request timeout, 60s by default, plus the watches' lag)",
      'LEADER_ELECTION_RENEW_DEADLINE=2s: must be shorter than LEADER_ELECTION_LEASE_DURATION=1500ms (a leader stops allocating before another may take over)',
      'LEADER_ELECTION_RETRY_PERIOD=2s: must be shorter than LEADER_ELECTION_RENEW_DEADLINE=2s (a leader renews several times within the deadline)',
    ]);
  });
});
