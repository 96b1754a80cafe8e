import { Controller, Get, HttpCode, HttpStatus, ServiceUnavailableException } from '@nestjs/common';
import { ReadinessService } from './readiness.service';

/** `/healthz` (liveness: the process answers) and `/readyz` (readiness: every registered condition holds). */
@Controller()
export class HealthController {
  constructor(private readonly readiness: ReadinessService) {}

  @Get('healthz')
  @HttpCode(HttpStatus.OK)
  healthz(): string {
    return 'ok';
  }

  @Get('readyz')
  readyz(): string {
    const problems = this.readiness.problems();
    if (problems.length > 0) throw new ServiceUnavailableException(`not ready: ${problems.join('; ')}`);
    return 'ok';
  }
}
