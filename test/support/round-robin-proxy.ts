import { EventEmitter } from 'node:events';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

interface Connection {
  client: Socket;
  upstream: Socket | undefined;
  /** What the backend sent while responses are held, in order. */
  held: Buffer[];
  upstreamEnded: boolean;
}

/**
 * The round-robin front a webhook URL needs to reach several managers (a Service does this in a cluster): a TCP proxy
 * on loopback, TLS passing through to the managers untouched. Each new connection goes to the next backend in turn;
 * one that refuses it is skipped for the next (a killed manager). Connections stay with their backend, as behind a
 * Service.
 *
 * `hold(port)` keeps every byte that backend sends back from the API server until `release()`: an answer a manager
 * computed and sent, delivered late, even after the manager died. The proxy emits `held` at the first such byte.
 */
export class RoundRobinProxy extends EventEmitter {
  private readonly connections = new Set<Connection>();
  private server: Server | undefined;
  private next = 0;
  private readonly holding = new Set<number>();
  /** Connections sent to each backend port, for the test's report. */
  readonly connectionsTo = new Map<number, number>();

  private constructor(private backends: number[]) {
    super();
  }

  static async start(backends: number[]): Promise<RoundRobinProxy> {
    const proxy = new RoundRobinProxy(backends);
    await new Promise<void>((resolve) => {
      proxy.server = createServer((client) => proxy.accept(client));
      proxy.server.listen(0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  /** The ports new connections go to from now on. */
  route(backends: number[]): void {
    this.backends = backends;
  }

  hold(port: number): void {
    this.holding.add(port);
  }

  /** Delivers what was held, and ends the connections whose backend already closed. */
  release(): void {
    this.holding.clear();
    for (const connection of this.connections) {
      for (const chunk of connection.held.splice(0)) connection.client.write(chunk);
      if (connection.upstreamEnded) connection.client.end();
    }
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.connections) {
      client.destroy();
      upstream?.destroy();
    }
    this.connections.clear();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private accept(client: Socket): void {
    const connection: Connection = { client, upstream: undefined, held: [], upstreamEnded: false };
    this.connections.add(connection);
    const early: Buffer[] = [];
    client.on('data', (data: Buffer) =>
      connection.upstream === undefined ? early.push(data) : connection.upstream.write(data),
    );
    client.on('error', () => undefined);
    client.on('close', () => {
      connection.upstream?.destroy();
      this.connections.delete(connection);
    });
    this.dial(connection, early, this.backends.length);
  }

  /** Connects to the next backend; tries the one after when it refuses, `tries` times in all. */
  private dial(connection: Connection, early: Buffer[], tries: number): void {
    if (tries === 0 || this.backends.length === 0) {
      connection.client.destroy();
      return;
    }
    const port = this.backends[this.next++ % this.backends.length];
    const upstream = connect(port, '127.0.0.1');
    let connected = false;
    upstream.on('connect', () => {
      connected = true;
      this.connectionsTo.set(port, (this.connectionsTo.get(port) ?? 0) + 1);
      connection.upstream = upstream;
      for (const chunk of early.splice(0)) upstream.write(chunk);
    });
    upstream.on('data', (data: Buffer) => {
      if (!this.holding.has(port)) {
        connection.client.write(data);
        return;
      }
      if (connection.held.length === 0) this.emit('held', port);
      connection.held.push(data);
    });
    upstream.on('end', () => {
      connection.upstreamEnded = true;
      if (connection.held.length === 0 && !this.holding.has(port)) connection.client.end();
    });
    upstream.on('error', () => {
      if (!connected) this.dial(connection, early, tries - 1);
    });
    upstream.on('close', () => {
      if (!connected) return;
      connection.upstreamEnded = true;
      // A backend that died with an answer held: the answer is delivered on release, then the connection ends.
      if (connection.held.length === 0 && !this.holding.has(port)) connection.client.destroy();
    });
  }
}
