import { Module } from '@nestjs/common';
import { KubevirtModule } from '../kubevirt/kubevirt.module';
import { MetricsModule } from '../metrics/metrics.module';
import { PodsModule } from '../pods/pods.module';
import { PoolModule } from '../pool/pool.module';
import { AdmissionRoutes } from './admission.routes';
import { AdmissionService } from './admission.service';

/** The webhook HTTP surface: /mutate-pods and /mutate-virtualmachines (AdmissionReview v1 and v1beta1). */
@Module({
  imports: [PodsModule, KubevirtModule, PoolModule, MetricsModule],
  providers: [AdmissionService, AdmissionRoutes],
})
export class AdmissionModule {}
