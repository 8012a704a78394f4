/**
 * A TCP proxy on 127.0.0.1 in front of a real peer (the adb server, usbmuxd's socket), to make that
 * peer slow or mute without changing it:
 * - `forward`: passes bytes both ways;
 * - `stall`: accepts connections and holds what clients send, answering nothing, until `forward`
 *   is set again (a busy server at boot); held connections then go through as if nothing happened;
 * - `mute`: accepts and never answers, dropping what it is sent (a hung peer).
 */
import net from 'node:net';

export type ProxyMode = 'forward' | 'stall' | 'mute';

interface Link {
  client: net.Socket;
  upstream: net.Socket | null;
  held: Buffer[];
}

export class TcpProxy {
  private readonly links = new Set<Link>();
  /** Connections accepted so far (to see that a client retried). */
  accepted = 0;

  private readonly server = net.createServer((client) => this.accept(client));

  private constructor(
    readonly target: net.NetConnectOpts,
    private currentMode: ProxyMode,
  ) {}

  static async start(target: net.NetConnectOpts, mode: ProxyMode = 'forward', port = 0): Promise<TcpProxy> {
    const proxy = new TcpProxy(target, mode);
    const server = proxy.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get mode(): ProxyMode {
    return this.currentMode;
  }

  /** Open client connections. */
  get openConnections(): number {
    return this.links.size;
  }

  setMode(mode: ProxyMode): void {
    this.currentMode = mode;
    if (mode === 'forward') for (const link of this.links) this.open(link);
  }

  /** Drops every open connection. */
  drop(): void {
    for (const link of this.links) this.end(link);
  }

  async close(): Promise<void> {
    this.drop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.accepted += 1;
    const link: Link = { client, upstream: null, held: [] };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (link.upstream) link.upstream.write(chunk);
      else if (this.currentMode === 'stall') link.held.push(chunk);
    });
    client.on('error', () => this.end(link));
    client.on('close', () => this.end(link));
    if (this.currentMode === 'forward') this.open(link);
  }

  private open(link: Link): void {
    if (link.upstream || link.client.destroyed) return;
    const upstream = net.connect(this.target);
    link.upstream = upstream;
    for (const chunk of link.held.splice(0)) upstream.write(chunk);
    upstream.on('data', (chunk: Buffer) => link.client.write(chunk));
    upstream.on('error', () => this.end(link));
    upstream.on('close', () => this.end(link));
  }

  private end(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.upstream?.destroy();
  }
}
