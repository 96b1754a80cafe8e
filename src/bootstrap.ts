import 'reflect-metadata';
import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import { AppConfig, ConfigurationException } from './config/app-config';
import { LOG_LEVELS, type LogLevelName } from './config/environment';
import { PoolService } from './modules/pool/pool.service';

/** Levels at or above the configured one (LOG_LEVELS lists them most severe first). */
function levelsFrom(level: LogLevelName): LogLevel[] {
  return LOG_LEVELS.slice(0, LOG_LEVELS.indexOf(level) + 1);
}

/**
 * Validates the environment and starts the manager. Returns undefined after logging every invalid variable when
 * the configuration is bad, so the caller exits non-zero before anything listens.
 */
export async function startManager(
  env: NodeJS.ProcessEnv,
  configLogger: ConsoleLogger = new ConsoleLogger('Config', { json: true }),
): Promise<NestFastifyApplication | undefined> {
  let config: AppConfig;
  try {
    config = AppConfig.fromEnvironment(env);
  } catch (error) {
    if (!(error instanceof ConfigurationException)) throw error;
    configLogger.fatal(error.message);
    return undefined;
  }
  const logger = new ConsoleLogger('Kubemacpool', { json: true, logLevels: levelsFrom(config.logLevel) });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter(),
    {
      logger,
    },
  );
  app.enableShutdownHooks();
  await app.listen(config.metrics.port, config.metrics.host);
  const stats = app.get(PoolService).pool.stats();
  logger.log(
    `pool ${stats.rangeStart} - ${stats.rangeEnd} (${stats.size} addresses); metrics on ` +
      `${config.metrics.host}:${config.metrics.port}/metrics; admission webhooks are not implemented yet`,
  );
  return app;
}
