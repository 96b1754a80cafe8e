import { Controller, Get, Param, Query, Req, Res, UseGuards } from '@nestjs/common';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { FORWARDED_BY_HEADER } from '../admission/leader-forwarding.service';
import { AccessResource, KubeAuthGuard } from '../access/kube-auth.guard';
import { AllocationsQuery, MacParams } from './admin.dto';
import { AdminService } from './admin.service';
import { DtoPipe } from './dto-pipe';

/**
 * The admin API under /api/v1, on the guarded HTTPS server: each route is authorised as a read of a kubemacpool.io
 * resource (SubjectAccessReview resource attributes), then its input validated (400 naming the field and value),
 * then answered from the leader's pool.
 */
@Controller('api/v1')
@UseGuards(KubeAuthGuard)
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  @Get('pool')
  @AccessResource('pool', 'get')
  pool(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.answer(request, reply, () => this.admin.pool());
  }

  @Get('macs/:mac')
  @AccessResource('macs', 'get')
  mac(
    @Param(new DtoPipe(MacParams)) params: MacParams,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.answer(request, reply, () => this.admin.owners(params.mac));
  }

  @Get('allocations')
  @AccessResource('allocations', 'list')
  allocations(
    @Query(new DtoPipe(AllocationsQuery)) query: AllocationsQuery,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.answer(request, reply, () => this.admin.allocations(query));
  }

  @Get('collisions')
  @AccessResource('collisions', 'list')
  collisions(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.answer(request, reply, () => this.admin.collisions());
  }

  /** This replica's answer when it leads; else the leader's, relayed with its status. */
  private async answer(
    request: FastifyRequest,
    reply: FastifyReply,
    local: () => object,
  ): Promise<object | string> {
    const forwardedBy = request.headers[FORWARDED_BY_HEADER];
    const relayed = await this.admin.relay(
      request.url,
      request.headers.authorization,
      typeof forwardedBy === 'string' ? forwardedBy : undefined,
    );
    if (relayed === undefined) return local();
    reply.status(relayed.status).header('content-type', relayed.contentType || 'application/json');
    return relayed.text;
  }
}
