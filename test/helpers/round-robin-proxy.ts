// A small round-robin HTTP load balancer on loopback, standing in for nginx or Caddy in front of several relay
// instances. Like them, it passes a request to the next instance when the connection is refused (nothing was sent
// yet, so that is safe even for a POST), and answers 502 when an instance fails after receiving the request.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProxiedRequest {
  method: string;
  /** Path with the query. */
  url: string;
  /** The upstream origin that answered, or null when none could. */
  upstream: string | null;
  status: number;
}

export interface UpstreamError {
  upstream: string;
  /** The socket error's code, e.g. ECONNREFUSED, ECONNRESET. */
  code: string;
  method: string;
  url: string;
}

export interface RoundRobinProxy {
  /** `http://127.0.0.1:<port>`: every instance's RELAY_PUBLIC_URL. */
  readonly url: string;
  /** Origins in rotation order (`http://127.0.0.1:<port>`); may be replaced at any time. */
  upstreams: string[];
  readonly requests: ProxiedRequest[];
  readonly errors: UpstreamError[];
  /** The upstreams that answered requests matching `path`, in order. */
  servedBy(method: string, path: RegExp): (string | null)[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(
  options: {
    upstreams?: string[];
    keepAlive?: boolean;
    /** Called as each request arrives, before it is read (benchmarks time requests from here). */
    onRequest?: (req: IncomingMessage) => void;
  } = {},
): Promise<RoundRobinProxy> {
  // Without keep-alive each request has its own connection: an instance closing idle sockets while it drains
  // can never race a request onto a dying connection.
  const agent = new http.Agent({ keepAlive: options.keepAlive ?? false, maxSockets: 256 });
  let next = 0;
  const proxy = {
    url: "",
    upstreams: [...(options.upstreams ?? [])],
    requests: [] as ProxiedRequest[],
    errors: [] as UpstreamError[],
    servedBy: (method: string, path: RegExp) =>
      proxy.requests.filter((r) => r.method === method && path.test(r.url)).map((r) => r.upstream),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, triesLeft: number): void => {
    const pool = proxy.upstreams;
    if (pool.length === 0 || triesLeft === 0) {
      proxy.requests.push({ method: req.method ?? "GET", url: req.url ?? "/", upstream: null, status: 502 });
      res.writeHead(502, { "content-type": "text/plain" }).end("no upstream available");
      return;
    }
    const upstream = pool[next++ % pool.length]!;
    const target = new URL(upstream);
    const outgoing = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host, "content-length": String(body.length) },
        agent,
      },
      (answer) => {
        proxy.requests.push({
          method: req.method ?? "GET",
          url: req.url ?? "/",
          upstream,
          status: answer.statusCode ?? 0,
        });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? error.message;
      proxy.errors.push({ upstream, code, method: req.method ?? "GET", url: req.url ?? "/" });
      if (res.headersSent) return void res.destroy();
      // Refused: the instance is down and saw nothing; any other failure may have reached it.
      if (code === "ECONNREFUSED") return forward(req, res, body, triesLeft - 1);
      proxy.requests.push({ method: req.method ?? "GET", url: req.url ?? "/", upstream, status: 502 });
      res.writeHead(502, { "content-type": "text/plain" }).end(`upstream failed: ${code}`);
    });
    outgoing.end(body);
  };

  const server = http.createServer((req, res) => {
    options.onRequest?.(req);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => forward(req, res, Buffer.concat(chunks), proxy.upstreams.length));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
