import net from 'node:net';

/**
 * A TCP relay the test can cut: whoever connects through it loses the target (open connections end,
 * new ones are refused at once) while everyone else keeps theirs. Used for Redis outages and for a
 * mirror link between two sites.
 */
export class TcpRelay {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  private readonly server: net.Server;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      if (this.cut) {
        client.destroy();
        return;
      }
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); resolves to the port. */
  listen(port = 0): Promise<number> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  /** The target is gone for whoever comes through here. */
  down(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  up(): void {
    this.cut = false;
  }

  close(): Promise<void> {
    this.down();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
