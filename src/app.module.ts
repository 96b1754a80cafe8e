import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { AccessModule } from './modules/access/access.module';
import { AdminModule } from './modules/admin/admin.module';
import { AdmissionModule } from './modules/admission/admission.module';
import { CertificatesModule } from './modules/certificates/certificates.module';
import { CollisionsModule } from './modules/collisions/collisions.module';
import { HealthModule } from './modules/health/health.module';
import { KubeModule } from './modules/kube/kube.module';
import { KubevirtModule } from './modules/kubevirt/kubevirt.module';
import { LeaderModule } from './modules/leader/leader.module';
import { LifecycleModule } from './modules/lifecycle/lifecycle.module';
import { MetricsModule } from './modules/metrics/metrics.module';
import { NamespacesModule } from './modules/namespaces/namespaces.module';
import { PodsModule } from './modules/pods/pods.module';
import { PoolModule } from './modules/pool/pool.module';

/** The manager: every feature module, wired through dependency injection around one validated AppConfig. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        KubeModule,
        HealthModule,
        PoolModule,
        LeaderModule,
        MetricsModule,
        NamespacesModule,
        AdmissionModule,
        CertificatesModule,
        KubevirtModule,
        PodsModule,
        LifecycleModule,
        CollisionsModule,
        AccessModule,
        AdminModule,
      ],
    };
  }
}
