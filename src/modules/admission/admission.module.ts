import { Module } from '@nestjs/common';

/** AdmissionReview endpoints (/mutate-pods, /mutate-virtualmachines). Not built yet: issue 5. */
@Module({})
export class AdmissionModule {}
