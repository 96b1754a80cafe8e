import { Agent, request } from 'node:https';
import { seededRandom } from '../fixtures/seeded-random';
import { admissionReview, podWithNetworks, virtualMachine } from '../fixtures/objects';
import { PoolService } from '../../src/modules/pool/pool.service';
import { WebhookEnvironment } from '../support/webhook';

interface Reply {
  status: number;
  body: string;
}

/**
 * Hostile and malformed input straight to the webhook over HTTPS: every request must get a clean answer (HTTP 200
 * with a denial, or a 4xx when there is no review to answer), never a 5xx or a crash, and the pool must not move.
 */
describe('the webhook under 10,000 malformed or hostile reviews', () => {
  const env = new WebhookEnvironment();
  let agent: Agent;
  let ca: string;
  beforeAll(async () => {
    await env.start({ RANGE_START: '02:bb:00:00:00:00', RANGE_END: '02:bb:00:00:00:0f' });
    const live = await env.admission.readMutatingWebhookConfiguration({ name: env.configurationName });
    ca = Buffer.from(live.webhooks![0].clientConfig.caBundle!, 'base64').toString('utf8');
    agent = new Agent({ keepAlive: true, maxSockets: 16, ca });
  });
  afterAll(async () => {
    agent?.destroy();
    await env.stop();
  });

  function post(path: string, body: string | Buffer, contentType = 'application/json'): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: env.manager.port,
          path,
          method: 'POST',
          agent,
          headers: { 'content-type': contentType },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('answers each one cleanly and leaves the pool unchanged', async () => {
    const random = seededRandom(7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const junk = (length: number) =>
      Array.from({ length }, () => String.fromCharCode(Math.floor(random() * 0x3000))).join('');
    // Every entry is invalid: an empty or null MAC would mean "allocate one" and legitimately move the pool.
    const badMacs = [
      '02:00:00:00:00',
      'zz:zz:zz:zz:zz:zz',
      '02-00:00:00:00:01',
      42,
      { mac: 1 },
      '0'.repeat(5000),
    ];
    const pod = (networks: unknown) =>
      podWithNetworks('fuzz', typeof networks === 'string' ? networks : JSON.stringify(networks));
    const hostilePodAnnotations = [
      () => junk(50),
      () => '[{"name":"a"}',
      () => '{"name":"a"}',
      () => [{ name: 'a', ips: '10.0.0.1' }],
      () => [{ name: 7 }],
      () => [{ name: 'ok' }, { name: 'b', mac: pick(badMacs) }],
      () => '[{"name":"a","__proto__":{"polluted":true},"mac":"nope"}]',
      () => Array.from({ length: 5000 }, (_, i) => ({ name: `n${i}` })),
      () => [{ name: 'a', mac: 'not-a-mac', big: 'x'.repeat(2_000_000) }],
      () => 'ns//net,@eth0,,',
    ];
    const bodies: (() => { path: string; body: string | Buffer; contentType?: string })[] = [
      () => ({ path: '/mutate-pods', body: junk(200) }),
      () => ({
        path: '/mutate-virtualmachines',
        body: Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))),
      }),
      () => ({
        path: '/mutate-pods',
        body: pick(['[]', '42', '"review"', 'null', '{}', '{"kind":"AdmissionReview"}']),
      }),
      () => ({
        path: '/mutate-pods',
        body: JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'u' },
        }),
      }),
      () => {
        // A dry run, so a "broken" value that happens to be valid (namespace 'x') admits without allocating.
        const review = admissionReview({
          kind: 'Pod',
          namespace: 'fz',
          object: pod([{ name: 'a' }]),
          dryRun: true,
        });
        const broken = pick(['kind', 'operation', 'object', 'dryRun', 'namespace'] as const);
        (review.request as Record<string, unknown>)[broken] = pick([null, 7, 'x', [], { a: 1 }]);
        return { path: '/mutate-pods', body: JSON.stringify(review) };
      },
      () => ({
        path: '/mutate-pods',
        body: JSON.stringify(
          admissionReview({
            kind: 'Pod',
            namespace: 'fz',
            object: pod(pick(hostilePodAnnotations)()),
            apiVersion: pick(['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const),
          }),
        ),
      }),
      () => {
        const ifaces = pick([
          [{ name: 'a', macAddress: String(pick(badMacs)) }],
          [{ name: 'a' }, { name: 'a' }],
          [
            { name: 'a', macAddress: '02:bb:00:00:00:01' },
            { name: 'b', macAddress: '02:BB:00:00:00:01' },
          ],
          Array.from({ length: 1000 }, (_, i) => ({ name: `i${i}` })),
        ]);
        return {
          path: '/mutate-virtualmachines',
          body: JSON.stringify(
            admissionReview({
              kind: 'VirtualMachine',
              namespace: 'fz',
              object: virtualMachine(
                'fz',
                ifaces,
                ifaces.map((i) => ({ name: i.name, multus: 'n' })),
              ),
            }),
          ),
        };
      },
      () => {
        const vm = virtualMachine('fz', [{ name: 'a' }], [{ name: 'a', multus: 'n' }]);
        const devices = (vm.spec as { template: { spec: { domain: { devices: Record<string, unknown> } } } })
          .template.spec.domain.devices;
        devices.interfaces = pick([{}, 'eth0', [7], [{ name: '' }], [{ name: 'a', macAddress: 12 }]]);
        return {
          path: '/mutate-virtualmachines',
          body: JSON.stringify(admissionReview({ kind: 'VirtualMachine', namespace: 'fz', object: vm })),
        };
      },
      () => ({
        path: pick(['/mutate-pods', '/mutate-virtualmachines']),
        body: JSON.stringify(
          admissionReview({
            kind: pick(['Pod', 'VirtualMachine'] as const),
            namespace: 'fz',
            object: pod([{ name: 'a' }]),
            dryRun: true,
          }),
        ),
      }),
      () => ({
        path: '/mutate-pods',
        body: JSON.stringify(
          admissionReview({ kind: 'VirtualMachine', namespace: 'fz', object: pod([{ name: 'a' }]) }),
        ),
      }),
      () => ({ path: '/mutate-pods', body: '{"x":1}', contentType: 'text/plain' }),
    ];

    const pool = env.manager.app.get(PoolService).pool;
    const before = pool.stats();
    const failures: string[] = [];
    let denials = 0;
    const total = 10_000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const { path, body, contentType } = pick(bodies)();
        const reply = await post(path, body, contentType);
        if (reply.status >= 500) failures.push(`${reply.status} ${reply.body.slice(0, 200)}`);
        if (reply.status === 200) {
          const review = JSON.parse(reply.body) as { response: { uid: string; allowed: boolean } };
          if (typeof review.response.uid !== 'string') failures.push(`no uid: ${reply.body.slice(0, 200)}`);
          if (!review.response.allowed) denials++;
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(failures).toEqual([]);
    expect(denials).toBeGreaterThan(total / 3);
    expect(pool.stats()).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await post('/mutate-pods', 'x'.repeat(8 * 1024 * 1024))).status).toBe(413);
  }, 300_000);
});
