import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import { performance } from 'node:perf_hooks';
import { type Counter, type Histogram } from 'prom-client';
import { type MutationExceptionCode } from '../mutation/mutation.exception';
import {
  ALLOCATION_FAILURE_REASONS,
  ALLOCATION_FAILURES_METRIC,
  WEBHOOK_LATENCY_METRIC,
  WEBHOOK_REQUESTS_METRIC,
} from './metrics.constants';

/** The labelled children a WebhookInstrument writes to: label sets are resolved once, not per request. */
interface WebhookSeries {
  latency: Histogram.Internal<string>;
  requests: Counter<string>;
  path: string;
}

/**
 * The measurements of one webhook path, made by its route handler: begin() when the handler starts, end() with the
 * HTTP status when it has its answer. The in-flight count is a plain number, published at scrape time.
 */
export class WebhookInstrument {
  /** Requests whose handler started and has not answered yet. */
  inFlight = 0;
  private readonly perCode = new Map<number, Counter.Internal>();

  constructor(private readonly series: WebhookSeries) {
    // As controller-runtime, the likeliest codes exist from the start, so rate() sees their first increase.
    this.countOf(200).inc(0);
    this.countOf(500).inc(0);
  }

  get path(): string {
    return this.series.path;
  }

  /** Returns the start time to pass to end(). */
  begin(): number {
    this.inFlight++;
    return performance.now();
  }

  end(started: number, code: number): void {
    this.series.latency.observe((performance.now() - started) / 1000);
    this.countOf(code).inc();
    this.inFlight--;
  }

  private countOf(code: number): Counter.Internal {
    let counter = this.perCode.get(code);
    if (counter === undefined) {
      counter = this.series.requests.labels(this.series.path, String(code));
      this.perCode.set(code, counter);
    }
    return counter;
  }
}

/**
 * What the admission routes measure: controller-runtime's webhook series (latency, requests by code, in flight),
 * labelled by path as upstream's are, and allocation failures by reason.
 */
@Injectable()
export class AdmissionMetrics {
  private readonly instruments = new Map<string, WebhookInstrument>();
  private readonly failuresByCode = new Map<MutationExceptionCode, Counter.Internal>();

  constructor(
    @InjectMetric(WEBHOOK_LATENCY_METRIC) private readonly latency: Histogram<string>,
    @InjectMetric(WEBHOOK_REQUESTS_METRIC) private readonly requests: Counter<string>,
    @InjectMetric(ALLOCATION_FAILURES_METRIC) failures: Counter<string>,
  ) {
    // Every reason exists at zero from the start: an alert on increase() sees the first failure.
    for (const [code, { reason }] of Object.entries(ALLOCATION_FAILURE_REASONS)) {
      failures.inc({ reason }, 0);
      this.failuresByCode.set(code as MutationExceptionCode, failures.labels(reason));
    }
  }

  /** The instrument of a webhook path (one per path, made when its route is registered). */
  webhook(path: string): WebhookInstrument {
    let instrument = this.instruments.get(path);
    if (instrument === undefined) {
      instrument = new WebhookInstrument({
        latency: this.latency.labels(path),
        requests: this.requests,
        path,
      });
      this.instruments.set(path, instrument);
    }
    return instrument;
  }

  /** Every instrument made so far, for the in-flight gauge. */
  webhooks(): IterableIterator<WebhookInstrument> {
    return this.instruments.values();
  }

  /** One denied or failed allocation. */
  allocationFailed(code: MutationExceptionCode): void {
    this.failuresByCode.get(code)?.inc();
  }
}
