import 'reflect-metadata';
import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type AddressInfo } from 'node:net';
import { type Server as TlsServer } from 'node:tls';
import { AppModule } from './app.module';
import { type CompileCacheState } from './compile-cache';
import { listen } from './common/listen';
import { AppConfig, ConfigurationException, webhookTlsOptions } from './config/app-config';
import { LOG_LEVELS, type LogLevelName } from './config/environment';
import { ServingCertificateService } from './modules/certificates/serving-certificate.service';
import { placeholderCertificate } from './modules/certificates/placeholder-certificate';
import { LeaderElectionService } from './modules/leader/leader-election.service';
import { AccessReviewService } from './modules/access/access-review.service';
import { MetricsHttpModule } from './modules/metrics/metrics-http.module';
import { AdminService } from './modules/admin/admin.service';
import { SecureMetricsModule } from './modules/metrics/secure-metrics.module';
import { PoolService } from './modules/pool/pool.service';

/** controller-runtime's limit for an AdmissionReview (an UPDATE carries the object twice). */
const WEBHOOK_BODY_LIMIT = 7 * 1024 * 1024;

/** `host:port`, with an IPv6 host in brackets. */
function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Levels at or above the configured one (LOG_LEVELS lists them most severe first). */
function levelsFrom(level: LogLevelName): LogLevel[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1);
}

/** A running manager: the HTTPS webhook application and, when on, the plain-HTTP metrics one and the guarded one. */
export interface Manager {
  config: AppConfig;
  app: NestFastifyApplication;
  metricsApp?: NestFastifyApplication;
  secureMetricsApp?: NestFastifyApplication;
  close(): Promise<void>;
}

export interface StartOptions {
  configLogger?: ConsoleLogger;
  /** Called before the webhook server listens (tests add routes here). */
  beforeListen?: (app: NestFastifyApplication) => void | Promise<void>;
  /** How main.ts set up the module compile cache, logged with the start (undefined: not by main.ts). */
  compileCache?: CompileCacheState;
  /** Command-line arguments: upstream's flags (see config/command-line.ts). */
  args?: readonly string[];
}

/**
 * A throwaway self-signed certificate the HTTPS server starts with. Nothing trusts it: the replica reports not ready
 * until the real serving certificate is loaded from its Secret, and then swaps it in without a restart.
 */
function startupCertificate(): { key: string; cert: string } {
  const now = Date.now();
  return placeholderCertificate(
    'kubemacpool-placeholder',
    new Date(now - 60_000),
    new Date(now + 86_400_000),
  );
}

/**
 * Validates the environment and flags and starts the manager. Returns undefined after logging every invalid one when
 * the configuration is bad, so the caller exits non-zero before anything listens.
 */
export async function startManager(
  env: NodeJS.ProcessEnv,
  options: StartOptions = {},
): Promise<Manager | undefined> {
  let config: AppConfig;
  try {
    config = AppConfig.fromEnvironment(env, options.args);
  } catch (error) {
    if (!(error instanceof ConfigurationException)) throw error;
    (options.configLogger ?? new ConsoleLogger('Config', { json: true })).fatal(error.message);
    return undefined;
  }
  // Fields passed as the last argument become top-level JSON keys next to `message`, so they can be queried.
  const logger = new ConsoleLogger('Kubemacpool', {
    json: true,
    flattenParams: true,
    logLevels: levelsFrom(config.logLevel),
  });
  for (const warning of config.warnings) logger.warn(warning);
  const adapter = new FastifyAdapter({
    https: { ...startupCertificate(), ...webhookTlsOptions(config.webhook) },
    bodyLimit: WEBHOOK_BODY_LIMIT,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger,
    abortOnError: false,
  });
  app.enableShutdownHooks();
  app
    .get(ServingCertificateService)
    .attach(app.getHttpServer() as unknown as TlsServer, app.getHttpAdapter().getInstance());
  await options.beforeListen?.(app);
  const webhookHost = await listen(app, config.webhook.port, config.webhook.host);
  const { advertiseAddress } = config.leaderElection;
  if (advertiseAddress !== '') {
    const port = (app.getHttpServer().address() as AddressInfo).port;
    app.get(LeaderElectionService).advertise(`https://${hostPort(advertiseAddress, port)}`);
  }

  let metricsApp: NestFastifyApplication | undefined;
  let metricsUrl: string | undefined;
  if (config.metrics !== undefined) {
    metricsApp = await NestFactory.create<NestFastifyApplication>(MetricsHttpModule, new FastifyAdapter(), {
      logger,
    });
    const host = await listen(metricsApp, config.metrics.port, config.metrics.host);
    metricsUrl = `http://${hostPort(host, config.metrics.port)}/metrics`;
  }

  let secureMetricsApp: NestFastifyApplication | undefined;
  let secureMetricsUrl: string | undefined;
  if (config.secureMetrics !== undefined) {
    secureMetricsApp = await NestFactory.create<NestFastifyApplication>(
      SecureMetricsModule.forRoot(app.get(AccessReviewService), app.get(AdminService)),
      new FastifyAdapter({ https: { ...startupCertificate(), ...webhookTlsOptions(config.webhook) } }),
      { logger },
    );
    // The webhook's serving certificate, swapped in here as there whenever it is renewed.
    app
      .get(ServingCertificateService)
      .attach(
        secureMetricsApp.getHttpServer() as unknown as TlsServer,
        secureMetricsApp.getHttpAdapter().getInstance(),
      );
    const host = await listen(secureMetricsApp, config.secureMetrics.port, config.secureMetrics.host);
    secureMetricsUrl = `https://${hostPort(host, config.secureMetrics.port)}/metrics`;
  }

  const stats = app.get(PoolService).pool.stats();
  logger.log('manager started', {
    rangeStart: stats.rangeStart,
    rangeEnd: stats.rangeEnd,
    rangeSize: stats.size,
    webhook: `https://${hostPort(webhookHost, config.webhook.port)}`,
    ...(metricsUrl === undefined ? {} : { metrics: metricsUrl }),
    ...(secureMetricsUrl === undefined ? {} : { secureMetrics: secureMetricsUrl }),
    ...(options.compileCache === undefined
      ? {}
      : { compileCache: options.compileCache.status, compileCacheDirectory: options.compileCache.directory }),
  });
  return {
    config,
    app,
    metricsApp,
    secureMetricsApp,
    close: async () => {
      await secureMetricsApp?.close();
      await metricsApp?.close();
      await app.close();
    },
  };
}
