import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { type Gauge } from 'prom-client';
import { AppConfig, type LeaderElectionSettings } from '../../config/app-config';
import { describeError, isConflict, isNotFound } from '../kube/kube-errors';
import {
  type LeaseRecord,
  type Observation,
  claim,
  mayAllocate,
  nextAction,
  observe,
  released,
} from './lease-election';
import { LEADER_METRIC, LEASE_NAME } from './leader.constants';
import { type CollectionWatch } from '../kube/resource-watch';
import { LeaseRepository } from './lease.repository';
import { PoolService } from '../pool/pool.service';
import { type MacSpan } from '../pool/mac-span';
import { ClaimLedger, type LeaseClaims, claimSize, claimsOf } from './range-claims';

/** This process's monotonic clock in milliseconds: it never jumps with the wall clock and runs on while stopped. */
const monotonic = () => performance.now();

/** What started a round: its timer, the watch seeing the Lease released, or admission needing a larger claim. */
type Trigger = 'timer' | 'released' | 'claim';

/** The leader as this replica last saw it in the Lease. */
export interface LeaderView {
  identity: string;
  url?: string;
}

/**
 * Leader election on a Lease, the client-go way: the leader renews every retry period, the others try as often and
 * take the Lease over once it went unchanged for its duration by their own clock. Only the leader allocates, and
 * only inside its fence (lease-election.ts, mayAllocate): a leader that could not renew for the renew deadline —
 * partitioned, or paused (SIGSTOP) — stops allocating before any other replica can have acquired the Lease. On
 * shutdown it stops allocating first, then releases the Lease, so a follower takes over at its next try.
 */
@Injectable()
export class LeaderElectionService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LeaderElectionService.name);
  private readonly settings: LeaderElectionSettings;
  private readonly namespace: string;
  private observed: Observation | undefined;
  private leading = false;
  private lastWriteStartedAt: number | undefined;
  /** The resourceVersion of this process's last successful write of the Lease. */
  private lastWrittenVersion: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private url: string | undefined;
  private lastError = '';
  private watch: CollectionWatch | undefined;
  private ticking = false;
  /** The round in flight (or the last one), awaited on shutdown. */
  private round: Promise<void> | undefined;
  /** A release seen while a round was running (its read may predate it): run another round right after. */
  private rerun = false;
  /** The hand-over fence: the stretches of the range this leader claims and holds back (range-claims.ts). */
  private readonly ledger: ClaimLedger;
  /** Whether the predecessors' claims are still held back (for the log line when that ends). */
  private holding = false;
  private readonly leadershipListeners: ((leading: boolean) => void)[] = [];
  /** MACs the admissions waiting in growClaim() need together: the next claim covers at least that many. */
  private claimNeed = 0;
  /** The pool's allocation count when the last claim was computed (the rate since sizes the next one). */
  private allocationsAtLastClaim = 0;
  private lastHeldLogged = '';

  constructor(
    config: AppConfig,
    private readonly leases: LeaseRepository,
    @InjectMetric(LEADER_METRIC) private readonly gauge: Gauge,
    private readonly pool: PoolService,
  ) {
    this.settings = config.leaderElection;
    this.namespace = config.namespace;
    this.ledger = new ClaimLedger(this.settings.handoverHoldMs);
    // Admission checks the fence right before each write to the pool, after whatever it awaited before.
    pool.admissionFence = () => this.mayAllocate();
  }

  get identity(): string {
    return this.settings.identity;
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  /**
   * Whether this replica leads (or runs without election): what replica-wide duties follow, such as exporting MAC
   * collisions and recording their Events. Allocation asks mayAllocate(), the stricter fence.
   */
  get isLeader(): boolean {
    return !this.settings.enabled || this.leading;
  }

  /** Calls `listener` each time this replica starts (true) or stops (false) leading. */
  onLeadershipChange(listener: (leading: boolean) => void): void {
    this.leadershipListeners.push(listener);
  }

  /** Whether this replica may write the pool now: the leader inside its fence, or any replica without election. */
  mayAllocate(): boolean {
    if (!this.settings.enabled) return true;
    return mayAllocate(this.leading, this.lastWriteStartedAt, this.settings.renewDeadlineMs, monotonic());
  }

  /** The holder of the Lease as last read (undefined: none, or not read yet). */
  leader(): LeaderView | undefined {
    const record = this.observed?.record;
    if (record === undefined || record.holder === '') return undefined;
    return { identity: record.holder, url: record.url };
  }

  /**
   * The leader as seen in the Lease, waiting up to `ms` while there is none, or only this replica (outside its fence),
   * or one without an address; returns what it saw last. Returns at once when this replica itself may allocate
   * (it won the Lease meanwhile: a released Lease is taken within a round trip). `unreachable`: a leader this
   * replica could not connect to, waited past until another holds the Lease (a killed leader's Lease outlives it).
   */
  async waitForLeader(ms: number, unreachable?: string): Promise<LeaderView | undefined> {
    const deadline = monotonic() + ms;
    for (;;) {
      const leader = this.leader();
      const usable =
        leader !== undefined &&
        leader.identity !== this.identity &&
        leader.identity !== unreachable &&
        leader.url !== undefined;
      if (usable || this.mayAllocate() || monotonic() >= deadline) return leader;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The URL followers reach this replica's webhook server at; written into the Lease while it leads. */
  advertise(url: string): void {
    this.url = url;
  }

  /**
   * Grows this leader's claim on the range (admission found its next `count` MACs past it): waits for the round in
   * flight, and runs one more when that did not cover them. Returns once the claim covers them, or after those two
   * rounds (concurrent admissions may have taken what was claimed; the caller tries again within its deadline).
   */
  async growClaim(count: number): Promise<void> {
    this.claimNeed += count;
    for (let round = 0; round < 2; round++) {
      if (!this.settings.enabled || !this.leading || this.stopped) return;
      if (this.ticking) await this.round;
      else {
        clearTimeout(this.timer);
        await this.tick('claim');
      }
      if (this.pool.pool.claimCovers(count)) return;
    }
  }

  /** Tries once before the app is ready (a lone replica leads at once), then keeps trying in the background. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.settings.enabled) {
      this.gauge.set(1);
      this.logger.log('leader election is off: this replica allocates', { identity: this.identity });
      return;
    }
    this.gauge.set(0);
    await this.tick();
    // A released (or deleted) Lease is taken at once, not at the next try: a SIGTERM hand-over costs one round trip.
    // Every renewal the watch shows restarts the expiry clock when it happens, not at this replica's next read, so a
    // SIGKILL fail-over costs the lease duration from the holder's last renewal, not up to a retry period more.
    this.watch = this.leases.watch(this.namespace, LEASE_NAME, (lease) => {
      if (this.stopped) return;
      if (this.leading) {
        // Its Lease deleted: another replica may create it anew any moment. Stop allocating now, not at the next
        // renewal; that renewal finds it gone and the round decides again.
        if (lease === undefined) this.setLeading(false, 'its Lease was deleted');
        return;
      }
      // A deleted Lease is not a release: the regular rounds decide once the last holder's lease expired.
      if (lease === undefined) return;
      if (lease.record.holder === '') {
        this.tickNow('released');
        return;
      }
      this.observed = observe(this.observed, lease.record, lease.resourceVersion, monotonic());
      if (!this.ticking) this.schedule();
    });
    void this.watch.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watch?.stop();
    if (!this.settings.enabled) return;
    // Stop allocating first: from here on this replica answers as a follower. A round in flight writes nothing
    // more once `stopped` is set; its write already sent is waited for, so the release carries the latest version.
    const wasLeading = this.leading;
    if (this.leading) this.setLeading(false, 'shutting down');
    await this.round;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const current = attempt === 1 ? this.observed : await this.readQuietly();
      if (current === undefined || current.record.holder !== this.identity) return;
      try {
        const written = await this.leases.replace(
          this.namespace,
          LEASE_NAME,
          released(current.record, new Date()),
          current.resourceVersion,
        );
        this.observed = { ...written, observedAt: monotonic() };
        this.logger.log('released the Lease', { identity: this.identity, lease: LEASE_NAME });
        return;
      } catch (error) {
        if (attempt === 2 || !isConflict(error)) {
          this.logger.warn('could not release the Lease; it expires on its own', {
            identity: this.identity,
            wasLeading,
            error: describeError(error),
          });
          return;
        }
      }
    }
  }

  private async readQuietly(): Promise<Observation | undefined> {
    const stored = await this.leases.read(this.namespace, LEASE_NAME).catch(() => undefined);
    return stored === undefined ? undefined : { ...stored, observedAt: monotonic() };
  }

  /** Runs a round now unless one is running (that one then decides). */
  private tickNow(trigger: Trigger): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.rerun = true;
      return;
    }
    clearTimeout(this.timer);
    void this.tick(trigger);
  }

  /** One round: read the Lease, then create, renew or take it over, or wait. Never throws. */
  private tick(trigger: Trigger = 'timer'): Promise<void> {
    this.round = this.runRound(trigger);
    return this.round;
  }

  private async runRound(trigger: Trigger): Promise<void> {
    this.ticking = true;
    const started = monotonic();
    // A leader whose fence passed while it waited (paused, or a read that hung) leads no more, whatever it reads now.
    if (this.leading && !this.mayAllocate()) this.setLeading(false, 'the renew deadline passed');
    try {
      const stored = await this.leases.read(this.namespace, LEASE_NAME);
      if (this.stopped) return;
      // The claims a new term inherits: from the record read now, else (deleted) the last one seen.
      const previous = stored?.record ?? this.observed?.record;
      // A Lease that vanished (deleted by hand) while another replica held it counts as that holder's still, until
      // it expires by this replica's clock: a deletion must not hand the pool over early. Then it is created anew.
      const held = this.observed !== undefined && this.observed.record.holder !== '';
      this.observed =
        stored === undefined
          ? held
            ? this.observed
            : undefined
          : observe(this.observed, stored.record, stored.resourceVersion, monotonic());
      let action = nextAction(this.identity, this.observed, monotonic());
      if (stored === undefined && action !== 'wait') action = 'create';
      if (action === 'wait') {
        if (this.leading) this.setLeading(false, `the Lease is held by ${this.observed?.record.holder}`);
      } else {
        // Only a renewal of the very record this process wrote last continues its term; anything else (a take-over,
        // a re-creation, its own Lease found after a restart or after its fence passed) starts one.
        const continuing =
          this.leading && action === 'renew' && stored?.resourceVersion === this.lastWrittenVersion;
        const claims = this.prepareClaims(continuing, previous);
        const record = claim(
          this.identity,
          action,
          this.observed,
          this.settings.leaseDurationMs / 1000,
          new Date(),
          this.url,
          claims.record,
        );
        if (this.stopped) return;
        const written =
          action === 'create'
            ? await this.leases.create(this.namespace, LEASE_NAME, record)
            : await this.leases.replace(this.namespace, LEASE_NAME, record, this.observed!.resourceVersion);
        if (this.stopped) return;
        this.observed = { ...written, observedAt: monotonic() };
        this.lastWriteStartedAt = started;
        this.lastWrittenVersion = written.resourceVersion;
        // Allocation moves into the new claim only now that the Lease shows it.
        this.ledger.adopt(claims.next, monotonic());
        this.claimNeed = Math.max(0, this.claimNeed - claims.need);
        this.applyBounds();
        if (!this.leading)
          this.setLeading(
            true,
            action === 'renew' ? 'renewed its own Lease' : `${action}d the Lease`,
            trigger,
          );
      }
      this.lastError = '';
    } catch (error) {
      // A conflict or a vanished Lease: another replica wrote, so this one leads no more. Other API errors: a leader
      // keeps leading only inside its fence.
      if (this.leading && (isConflict(error) || isNotFound(error)))
        this.setLeading(false, 'the Lease changed under it');
      const message = describeError(error);
      if (message !== this.lastError) {
        this.logger.warn('leader election: the Lease could not be read or written', {
          identity: this.identity,
          error: message,
        });
        this.lastError = message;
      }
    } finally {
      if (this.leading && !this.mayAllocate()) this.setLeading(false, 'the renew deadline passed');
      this.gauge.set(this.mayAllocate() ? 1 : 0);
      this.ticking = false;
      if (this.rerun && !this.leading && !this.stopped) {
        this.rerun = false;
        void this.tick('released');
      } else {
        this.rerun = false;
        this.schedule();
      }
    }
  }

  /**
   * The claims the coming write publishes. A write that does not continue this process's term starts one: whatever
   * `previous` (the record read, or the last one seen when the Lease was deleted) says its predecessors claimed is
   * held back for the hold time. Then it claims ahead of its cursor, skipping what is held back, at least as many
   * MACs as an admission waiting for the claim needs.
   */
  private prepareClaims(
    continuing: boolean,
    previous: LeaseRecord | undefined,
  ): { record: LeaseClaims; next: MacSpan[]; need: number } {
    const now = monotonic();
    if (!continuing) {
      if (previous?.claimsProblem !== undefined) {
        this.logger.warn('the claims in the Lease cannot be read: every MAC is held back for the hold time', {
          identity: this.identity,
          holder: previous.holder,
          problem: previous.claimsProblem,
        });
      }
      this.ledger.inherit(claimsOf(previous), now);
      const held = this.ledger.blocked(now);
      this.holding = held.length > 0;
      const logged = JSON.stringify(held);
      if (this.holding && logged !== this.lastHeldLogged) {
        this.lastHeldLogged = logged;
        this.logger.log('holding back the stretches the previous leader claimed', {
          identity: this.identity,
          previous: previous?.holder || '(released)',
          stretches: held.length,
          macs: held.reduce((sum, span) => sum + span.last - span.first + 1, 0),
          forMs: this.settings.handoverHoldMs,
        });
      }
    }
    this.applyBounds();
    const pool = this.pool.pool;
    // What waiting admissions asked for is taken up by this round once its write succeeded (adopt); those arriving
    // meanwhile ask the next one.
    const need = this.claimNeed;
    const recent = pool.allocations - this.allocationsAtLastClaim;
    this.allocationsAtLastClaim = pool.allocations;
    const next = pool.claimAhead(Math.max(claimSize(pool.stats().free, recent), need));
    return { record: this.ledger.proposal(next, now), next, need };
  }

  /** Gives the pool this leader's claim and what it holds back (nothing may be allocated while it does not lead). */
  private applyBounds(): void {
    const blocked = this.ledger.blocked(monotonic());
    if (this.holding && blocked.length === 0) {
      this.holding = false;
      this.logger.log('the hold on the previous leader’s stretches ended', { identity: this.identity });
    }
    this.pool.pool.setBounds({ claim: this.ledger.current, blocked });
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    // Followers add up to 20 % jitter, so replicas that started together do not retry in lockstep, and try again
    // just when the holder's Lease expires by their clock if that is sooner: a SIGKILL fail-over costs the lease
    // duration and a round trip, not up to one more retry period.
    let delay = this.settings.retryPeriodMs * (this.leading ? 1 : 1 + Math.random() * 0.2);
    const observed = this.observed;
    if (!this.leading && observed !== undefined && observed.record.holder !== '') {
      const expiresIn = observed.observedAt + observed.record.durationSeconds * 1000 - monotonic();
      delay = Math.min(delay, Math.max(0, expiresIn) + 1);
    }
    this.timer = setTimeout(() => void this.tick(), delay);
  }

  private setLeading(leading: boolean, why: string, trigger?: Trigger): void {
    this.leading = leading;
    if (!leading) {
      this.ledger.reset();
      this.holding = false;
      this.lastHeldLogged = '';
      this.applyBounds();
    }
    for (const listener of this.leadershipListeners) listener(leading);
    this.gauge.set(leading ? 1 : 0);
    this.logger.log(leading ? 'became the leader' : 'stopped leading', {
      identity: this.identity,
      lease: LEASE_NAME,
      why,
      ...(trigger === undefined ? {} : { trigger }),
    });
  }
}
