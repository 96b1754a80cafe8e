import { Module } from '@nestjs/common';

/** Multus networks annotation parsing and Pod mutation. Not built yet: issue 5. */
@Module({})
export class PodsModule {}
