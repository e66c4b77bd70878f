// A loopback TCP pass-through (e.g. in front of PostgreSQL) that can fail like a network: `blackhole()` keeps
// accepting connections but passes nothing on and drops the ones it carried (a partition: no answer at all), and
// `restore()` goes back to forwarding.
import net from "node:net";

export interface TcpForwarder {
  /** The loopback port to connect to instead of the target's. */
  readonly port: number;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startTcpForwarder(target: { host: string; port: number }): Promise<TcpForwarder> {
  let down = false;
  const sockets = new Set<net.Socket>();
  const keep = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  };
  const dropAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  const server = net.createServer((client) => {
    keep(client);
    if (down) return;
    const upstream = net.connect(target.port, target.host);
    keep(upstream);
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    blackhole() {
      down = true;
      dropAll();
    },
    restore() {
      down = false;
      // Connections accepted while down never reached the target; their clients retry on fresh ones.
      dropAll();
    },
    async close() {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
