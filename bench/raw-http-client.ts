// A lean HTTP/1.1 keep-alive client for the load generators: one request at a time per connection, the request
// written as one string, the answer read only as far as its status line and Content-Length. node:http's client
// spends more CPU per request than the relay's no-op route does (measured: 25-45 µs), so with it the no-op figure
// measured the client rather than the server. Graph does not pipeline, and neither does this.
import net from "node:net";

export interface RawHttpTarget {
  host: string;
  port: number;
  path: string;
}

/** A connection that POSTs `body` and resolves with the answer's status once the whole answer has arrived. */
export interface RawHttpConnection {
  post(body: string): Promise<number>;
  close(): void;
}

const HEADER_END = Buffer.from("\r\n\r\n");

export async function openRawHttpConnection(target: RawHttpTarget): Promise<RawHttpConnection> {
  const socket = net.connect({ host: target.host, port: target.port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const head = `POST ${target.path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nContent-Type: application/json\r\nContent-Length: `;
  let buffered: Buffer = Buffer.alloc(0);
  let waiting: { resolve: (status: number) => void; reject: (error: Error) => void } | undefined;

  const fail = (error: Error) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(error);
  };
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("connection closed by the server")));
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf(HEADER_END);
    if (end === -1) return;
    const header = buffered.toString("latin1", 0, end);
    const bodyStart = end + HEADER_END.length;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(header);
    const total = length
      ? bodyStart + Number(length[1])
      : /\r\ntransfer-encoding:\s*chunked/i.test(header)
        ? chunkedEnd(buffered, bodyStart)
        : Number.NaN;
    if (Number.isNaN(total)) {
      fail(new Error(`answer without a length: ${header.split("\r\n")[0]}`));
      socket.destroy();
      return;
    }
    if (total === -1 || buffered.length < total) return;
    if (buffered.length > total) {
      fail(new Error("more bytes than one answer"));
      socket.destroy();
      return;
    }
    buffered = Buffer.alloc(0);
    const w = waiting;
    waiting = undefined;
    w?.resolve(Number(header.slice(9, 12)));
  });

  return {
    post(body) {
      if (waiting) return Promise.reject(new Error("one request at a time per connection"));
      return new Promise<number>((resolve, reject) => {
        waiting = { resolve, reject };
        socket.write(`${head}${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
    },
    close: () => socket.destroy(),
  };
}

/** Where a chunked body (without trailers) starting at `at` ends, or -1 while it is incomplete. */
function chunkedEnd(buffer: Buffer, at: number): number {
  for (let offset = at; ;) {
    const lineEnd = buffer.indexOf("\r\n", offset, "latin1");
    if (lineEnd === -1) return -1;
    const size = parseInt(buffer.toString("latin1", offset, lineEnd), 16);
    if (Number.isNaN(size)) return Number.NaN;
    offset = lineEnd + 2 + size + 2;
    if (size === 0) return buffer.length >= offset ? offset : -1;
  }
}
