import { Module } from '@nestjs/common';
import { NamespaceScopeRepository } from './namespace-scope.repository';
import { NamespaceScopeService } from './namespace-scope.service';

/**
 * Which namespaces are managed, per kind: the webhook configuration's selectors evaluated over the namespaces'
 * labels. Admission and the life cycle both read it; it depends on neither.
 */
@Module({
  providers: [NamespaceScopeRepository, NamespaceScopeService],
  exports: [NamespaceScopeService],
})
export class NamespacesModule {}
