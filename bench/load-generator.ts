import { Agent, request } from 'node:https';

/** What the parent asks the load generator (a child process, so load and server do not share an event loop). */
export interface LoadPlan {
  port: number;
  path: string;
  ca: string;
  /** One request body per request index (cycled). */
  bodies: string[];
  connections: number;
  durationMs: number;
  /** Requests per second for an open-loop run; omitted for closed loop (each connection sends as fast as answered). */
  rate?: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  non200: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Sends the plan's requests over HTTPS keep-alive connections, open loop (at `rate`) or closed loop. */
export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.connections, ca: plan.ca });
  const latencies: number[] = [];
  let errors = 0;
  let non200 = 0;
  let sent = 0;
  const send = () =>
    new Promise<void>((resolve) => {
      const sentNs = process.hrtime.bigint();
      const body = plan.bodies[sent++ % plan.bodies.length];
      const req = request(
        {
          host: '127.0.0.1',
          port: plan.port,
          path: plan.path,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) non200++;
            latencies.push(Number(process.hrtime.bigint() - sentNs) / 1e6);
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const start = process.hrtime.bigint();
  const endNs = start + BigInt(plan.durationMs) * 1_000_000n;
  if (plan.rate === undefined) {
    await Promise.all(
      Array.from({ length: plan.connections }, async () => {
        while (process.hrtime.bigint() < endNs) await send();
      }),
    );
  } else {
    // Open loop: every millisecond, send what has fallen due, whatever is still in flight. Latency runs from the
    // moment a request leaves, so the generator's timer granularity is not charged to the server, while a server
    // that falls behind still shows its queue (requests keep leaving on schedule, not when answers come back).
    const intervalNs = BigInt(Math.round(1e9 / plan.rate));
    const inFlight: Promise<void>[] = [];
    let due = start;
    while (due < endNs) {
      const now = process.hrtime.bigint();
      while (due <= now && due < endNs) {
        inFlight.push(send());
        due += intervalNs;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(inFlight);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    non200,
    seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies[latencies.length - 1] ?? NaN,
  };
}

// Run as a child: read the plan from stdin, print the result as JSON.
if (require.main === module) {
  const chunks: Buffer[] = [];
  process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
  process.stdin.on('end', () => {
    const plan = JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadPlan;
    void runLoad(plan).then((result) => process.stdout.write(JSON.stringify(result)));
  });
}
