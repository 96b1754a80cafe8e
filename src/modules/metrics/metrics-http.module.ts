import { Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';

/**
 * The plain-HTTP application on METRICS_ADDR that serves `/metrics`. It is a second, tiny Nest application: the
 * webhook server stays HTTPS-only, and prom-client's global registry carries every metric the main application's
 * modules registered (their gauges collect from the main application's services at scrape time).
 */
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } })],
})
export class MetricsHttpModule {}
