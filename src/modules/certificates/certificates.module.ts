import { Module } from '@nestjs/common';

/** Webhook CA and serving certificate in Secrets, with renewal. Not built yet: issue 4. */
@Module({})
export class CertificatesModule {}
