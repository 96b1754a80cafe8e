import { Injectable, Logger, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { AppConfig } from '../../config/app-config';
import { FORWARDED_BY_HEADER, LeaderForwardingService } from '../admission/leader-forwarding.service';
import { CollisionsService } from '../collisions/collisions.service';
import { describeError } from '../kube/kube-errors';
import { LeaderElectionService } from '../leader/leader-election.service';
import { MacAddress } from '../pool/mac-address';
import { PoolService } from '../pool/pool.service';
import { type AllocationsQuery, BadTokenException, DEFAULT_PAGE } from './admin.dto';
import {
  type AllocationPage,
  type AllocationView,
  type CollisionView,
  type PoolView,
  allocationPage,
  allocationView,
  decodeToken,
  poolView,
} from './admin-views';

/** How long a follower waits for the leader's answer to a read. */
const FORWARD_TIMEOUT_MS = 5_000;

/** A read the leader answered for this follower, relayed as it came. */
export interface RelayedAnswer {
  status: number;
  text: string;
  contentType: string;
}

/**
 * The admin API's answers, from the leader's pool: the leader (or a manager without election) answers from its
 * own, a follower relays the leader's answer (its own pool can lag the leader's by the watch delay, and knows none
 * of the leader's pending admissions). The caller's token goes along: the leader reviews it again.
 */
@Injectable()
export class AdminService {
  private readonly logger = new Logger(AdminService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly pools: PoolService,
    private readonly collisionsService: CollisionsService,
    private readonly election: LeaderElectionService,
    private readonly forwarding: LeaderForwardingService,
  ) {}

  /**
   * Undefined when this replica answers itself; else the leader's answer to the same request (`url`: its path and
   * query). Refuses (503) when there is no leader to ask, or a forwarded request reached a replica that no longer leads.
   */
  async relay(
    url: string,
    authorization: string | undefined,
    forwardedBy: string | undefined,
  ): Promise<RelayedAnswer | undefined> {
    if (this.election.isLeader) return undefined;
    if (forwardedBy !== undefined) {
      throw new ServiceUnavailableException(
        `${this.election.identity} does not lead any more (forwarded by ${forwardedBy}); retry`,
      );
    }
    const leader = this.election.leader();
    const port = this.config.secureMetrics?.port;
    if (leader === undefined || leader.url === undefined || port === undefined) {
      throw new ServiceUnavailableException('no leader is known to answer from its pool; retry');
    }
    // Every replica of the Deployment serves the admin API on the same port; the Lease names the leader's host.
    const target = new URL(leader.url);
    target.port = String(port);
    try {
      return await this.forwarding.get(
        target.toString(),
        url,
        {
          ...(authorization === undefined ? {} : { authorization }),
          [FORWARDED_BY_HEADER]: this.election.identity,
        },
        FORWARD_TIMEOUT_MS,
      );
    } catch (error) {
      this.logger.warn('could not relay an admin read to the leader', {
        leader: leader.identity,
        error: describeError(error),
      });
      throw new ServiceUnavailableException(`could not reach the leader ${leader.identity}; retry`);
    }
  }

  pool(): PoolView {
    return poolView(this.pools.pool);
  }

  owners(text: string): { mac: string; inRange: boolean; owners: AllocationView[] } {
    const mac = MacAddress.parse(text);
    const owners = this.pools.pool
      .holders(mac)
      .map(allocationView)
      .filter((view) => view !== undefined);
    if (owners.length === 0) throw new NotFoundException(`MAC ${mac.toString()} is not allocated`);
    return { mac: mac.toString(), inRange: this.pools.pool.range.contains(mac.value), owners };
  }

  allocations(query: AllocationsQuery): AllocationPage {
    const after = query.continue === undefined ? undefined : decodeToken(query.continue);
    if (query.continue !== undefined && after === undefined) throw new BadTokenException(query.continue);
    return allocationPage(
      this.pools.pool,
      { kind: query.kind, namespace: query.namespace },
      query.limit ?? DEFAULT_PAGE,
      after,
    );
  }

  collisions(): { items: CollisionView[] } {
    const items = [...this.collisionsService.collisions()]
      .sort(([a], [b]) => a - b)
      .map(([mac, objects]) => ({ mac: MacAddress.fromValue(mac).toString(), objects: [...objects].sort() }));
    return { items };
  }
}
