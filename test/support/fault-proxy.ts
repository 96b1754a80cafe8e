import { KubeConfig } from '@kubernetes/client-node';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP proxy on loopback in front of the real kube-apiserver (TLS passes through untouched), for tests of what
 * clients do when the network misbehaves: `reset()` breaks every open connection with an RST, `freeze()` makes every
 * open connection silent in both directions (a half-open connection), as a dead node or a dropped route would.
 * Connections opened afterwards work normally.
 */
export class FaultProxy {
  private readonly connections = new Set<{ client: Socket; upstream: Socket; frozen: boolean }>();
  private server: Server | undefined;

  private constructor(private readonly target: URL) {}

  static async start(target: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(new URL(target));
    await proxy.listen();
    return proxy;
  }

  get url(): string {
    return `https://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** `kubeConfig` with its current cluster reached through this proxy. */
  kubeConfig(kubeConfig: KubeConfig): KubeConfig {
    const copy = new KubeConfig();
    copy.loadFromString(kubeConfig.exportConfig());
    const cluster = copy.getCurrentCluster()!;
    copy.clusters = copy.clusters.map((c) => (c.name === cluster.name ? { ...c, server: this.url } : c));
    return copy;
  }

  reset(): void {
    for (const connection of this.connections) {
      connection.client.resetAndDestroy();
      connection.upstream.destroy();
    }
    this.connections.clear();
  }

  freeze(): void {
    for (const connection of this.connections) connection.frozen = true;
  }

  async stop(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private listen(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(Number(this.target.port), this.target.hostname);
      const connection = { client, upstream, frozen: false };
      this.connections.add(connection);
      client.on('data', (data) => connection.frozen || upstream.write(data));
      upstream.on('data', (data) => connection.frozen || client.write(data));
      client.on('end', () => connection.frozen || upstream.end());
      upstream.on('end', () => connection.frozen || client.end());
      for (const socket of [client, upstream]) {
        socket.on('error', () => undefined);
        socket.on('close', () => {
          if (!connection.frozen) {
            client.destroy();
            upstream.destroy();
          }
          if (client.destroyed && upstream.destroyed) this.connections.delete(connection);
        });
      }
    });
    return new Promise((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }
}
