import { Module } from '@nestjs/common';
import { AccessReviewRepository } from './access-review.repository';
import { AccessReviewService } from './access-review.service';

/**
 * Delegated authentication and authorization for the guarded endpoints (metrics on 8443, the admin API): bearer
 * tokens reviewed by the API server, requests authorised by SubjectAccessReview, both cached. See
 * docs/architecture.md, Guarded endpoints.
 */
@Module({
  providers: [AccessReviewRepository, AccessReviewService],
  exports: [AccessReviewService],
})
export class AccessModule {}
