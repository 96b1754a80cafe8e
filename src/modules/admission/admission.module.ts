import { Module } from '@nestjs/common';
import { KubevirtModule } from '../kubevirt/kubevirt.module';
import { LeaderModule } from '../leader/leader.module';
import { MetricsModule } from '../metrics/metrics.module';
import { PodsModule } from '../pods/pods.module';
import { PoolModule } from '../pool/pool.module';
import { AdmissionRoutes } from './admission.routes';
import { AdmissionService } from './admission.service';
import { LeaderForwardingService } from './leader-forwarding.service';
import { CertificatesModule } from '../certificates/certificates.module';
import { NamespacesModule } from '../namespaces/namespaces.module';

/** The webhook HTTP surface: /mutate-pods and /mutate-virtualmachines (AdmissionReview v1 and v1beta1). */
@Module({
  imports: [
    PodsModule,
    KubevirtModule,
    PoolModule,
    MetricsModule,
    LeaderModule,
    CertificatesModule,
    NamespacesModule,
  ],
  providers: [AdmissionService, AdmissionRoutes, LeaderForwardingService],
  // The admin API forwards a follower's reads to the leader through the same verified connection.
  exports: [LeaderForwardingService],
})
export class AdmissionModule {}
