import { Injectable, Logger } from '@nestjs/common';
import { type V1ObjectReference } from '@kubernetes/client-node';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { type Gauge } from 'prom-client';
import { EventRepository } from '../kube/event.repository';
import { describeError } from '../kube/kube-errors';
import { MacAddress } from '../pool/mac-address';
import { type CollisionChange } from './collision-map';
import {
  COLLISION_EVENT_COMPONENT,
  COLLISION_EVENT_REASON,
  MAC_COLLISIONS_METRIC,
} from './collisions.constants';
import { collisionMessage } from './running-object';

/** Events being created at once; the rest wait, so a burst of collisions never floods the API server. */
const EVENTS_IN_FLIGHT = 4;
/** Events waiting beyond this are dropped (and counted in a log line): a flood must not grow memory without end. */
const MAX_QUEUED_EVENTS = 10_000;
/**
 * An Event request that has not settled by then frees its slot (it may still complete): a few half-open connections
 * must not stop every later Event.
 */
const EVENT_DEADLINE_MS = 30_000;
/** Objects named in one log line; the rest are counted. */
const LOGGED_REFS = 10;

/** An object an Event is recorded on. */
export type EventTarget = Required<Pick<V1ObjectReference, 'kind' | 'apiVersion' | 'namespace' | 'name'>> &
  Pick<V1ObjectReference, 'uid'>;

interface QueuedEvent {
  target: EventTarget;
  message: string;
}

/**
 * Turns collision changes into what users see: the `kmp_mac_collisions{mac}` series (set to the number of
 * colliding objects, deleted when the collision clears) and one Warning Event `MACCollision` on every object of a
 * new or changed collision, with upstream's message. Events go out through a small queue, a few at a time.
 */
@Injectable()
export class CollisionReporter {
  private readonly logger = new Logger(CollisionReporter.name);
  private readonly queue: QueuedEvent[] = [];
  private inFlight = 0;
  private dropped = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly events: EventRepository,
    @InjectMetric(MAC_COLLISIONS_METRIC) private readonly gauge: Gauge<'mac'>,
  ) {}

  /** Reports settled changes; `target` finds the object behind a ref (undefined: it is gone, no Event). */
  report(changes: readonly CollisionChange[], target: (ref: string) => EventTarget | undefined): void {
    for (const { mac: value, refs } of changes) {
      const mac = MacAddress.format(value);
      if (refs.length === 0) {
        this.gauge.remove({ mac });
        this.logger.log('MAC collision cleared', { mac });
        continue;
      }
      this.gauge.set({ mac }, refs.length);
      this.logger.warn('MAC collision', {
        mac,
        count: refs.length,
        objects: refs.length > LOGGED_REFS ? [...refs.slice(0, LOGGED_REFS), '…'] : refs,
      });
      const message = collisionMessage(mac, refs);
      for (const ref of refs) {
        const object = target(ref);
        if (object !== undefined) this.enqueue({ target: object, message });
      }
    }
  }

  /**
   * Reports every collision in `collisions` anew, series and Events (this replica took over: the one before may have
   * missed some, or died before its Events went out; a repeated Event only raises the count kubectl shows).
   */
  republish(
    collisions: Iterable<readonly [number, readonly string[]]>,
    target: (ref: string) => EventTarget | undefined,
  ): void {
    this.gauge.reset();
    const changes = [...collisions].map(([mac, refs]) => ({ mac, refs: [...refs] }));
    if (changes.length > 0)
      this.logger.log('reporting the MAC collisions known at taking over', { collisions: changes.length });
    this.report(changes, target);
  }

  /** Removes every series (the detection stopped, or this replica stopped leading). */
  clear(): void {
    this.gauge.reset();
  }

  /** Resolves when no Event is queued or being created (tests, shutdown). */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(event: QueuedEvent): void {
    if (this.queue.length >= MAX_QUEUED_EVENTS) {
      if (this.dropped++ === 0)
        this.logger.warn('too many MACCollision Events waiting: dropping new ones', {
          limit: MAX_QUEUED_EVENTS,
        });
      return;
    }
    this.queue.push(event);
    this.drain();
  }

  private drain(): void {
    while (this.inFlight < EVENTS_IN_FLIGHT && this.queue.length > 0) {
      const event = this.queue.shift()!;
      this.inFlight++;
      void this.record(event).finally(() => {
        this.inFlight--;
        this.drain();
        if (this.inFlight === 0 && this.queue.length === 0) this.settled();
      });
    }
  }

  private settled(): void {
    if (this.dropped > 0) {
      this.logger.warn('MACCollision Events dropped while the queue was full', { dropped: this.dropped });
      this.dropped = 0;
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async record({ target, message }: QueuedEvent): Promise<void> {
    const now = new Date();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${EVENT_DEADLINE_MS} ms`)),
        EVENT_DEADLINE_MS,
      );
    });
    try {
      await Promise.race([deadline, this.create(target, message, now)]);
    } catch (error) {
      this.logger.warn('cannot record the MACCollision Event', {
        kind: target.kind,
        namespace: target.namespace,
        name: target.name,
        message,
        error: describeError(error),
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private create(target: EventTarget, message: string, now: Date): Promise<void> {
    return this.events.create(target.namespace, {
      metadata: { generateName: `${target.name}.` },
      involvedObject: target,
      reason: COLLISION_EVENT_REASON,
      message,
      type: 'Warning',
      source: { component: COLLISION_EVENT_COMPONENT },
      reportingComponent: COLLISION_EVENT_COMPONENT,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  }
}
