import { Controller, Get, Header, type DynamicModule, Module, UseGuards } from '@nestjs/common';
import { register } from 'prom-client';
import { AccessReviewService } from '../access/access-review.service';
import { KubeAuthGuard } from '../access/kube-auth.guard';

/** `/metrics` for callers the API server authenticates and authorises to `get /metrics`. */
@Controller()
@UseGuards(KubeAuthGuard)
export class SecureMetricsController {
  @Get('metrics')
  @Header('content-type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}

/**
 * The guarded HTTPS application on METRICS_SECURE_ADDR: prom-client's global registry (every metric the manager's
 * modules registered) behind KubeAuthGuard. A Nest application of its own, as the plain metrics one is; the reviews
 * go through the main application's AccessReviewService, so both share its caches and its connection.
 */
@Module({})
export class SecureMetricsModule {
  static forRoot(access: AccessReviewService): DynamicModule {
    return {
      module: SecureMetricsModule,
      controllers: [SecureMetricsController],
      providers: [{ provide: AccessReviewService, useValue: access }, KubeAuthGuard],
    };
  }
}
