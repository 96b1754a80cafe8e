import { Module } from '@nestjs/common';

/** VirtualMachine interface rules and mutation. Not built yet: issue 5. */
@Module({})
export class KubevirtModule {}
