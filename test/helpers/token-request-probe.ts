// Watches the emulator's token endpoint from inside its HTTP server: when each token request arrived and when its
// answer was finished (real time), by tenant. With `delayMs`, Entra answers slowly, which widens the window in
// which two unserialised refreshes of one org would overlap.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Emulator } from "../../emulator/index.ts";

export interface TokenRequest {
  tenant: string;
  startedAt: number;
  finishedAt: number | undefined;
}

export interface TokenRequestProbe {
  readonly requests: TokenRequest[];
  /** Each request waits this long (real time) before the emulator sees it. */
  delayMs: number;
  /** Pairs of requests for one tenant that were in flight at the same time. */
  overlaps(): [TokenRequest, TokenRequest][];
  /** Gives the emulator its own request handling back. */
  close(): void;
}

const TOKEN_PATH = /^\/([^/?]+)\/oauth2\/v2\.0\/token(?:\?|$)/;

export function probeTokenRequests(emu: Emulator): TokenRequestProbe {
  const server = emu.app.server;
  const handlers = server.listeners("request") as ((req: IncomingMessage, res: ServerResponse) => void)[];
  const dispatch = (req: IncomingMessage, res: ServerResponse) => {
    for (const handler of handlers) handler.call(server, req, res);
  };
  const probe: TokenRequestProbe = {
    requests: [],
    delayMs: 0,
    overlaps() {
      const found: [TokenRequest, TokenRequest][] = [];
      const done = probe.requests.filter((r) => r.finishedAt !== undefined);
      for (const [i, a] of done.entries())
        for (const b of done.slice(i + 1))
          if (a.tenant === b.tenant && a.startedAt < b.finishedAt! && b.startedAt < a.finishedAt!)
            found.push([a, b]);
      return found;
    },
    close() {
      server.removeListener("request", watch);
      for (const handler of handlers) server.on("request", handler);
    },
  };
  const watch = (req: IncomingMessage, res: ServerResponse) => {
    const tenant = TOKEN_PATH.exec(req.url ?? "")?.[1];
    if (tenant === undefined || req.method !== "POST") return dispatch(req, res);
    const request: TokenRequest = { tenant, startedAt: performance.now(), finishedAt: undefined };
    probe.requests.push(request);
    res.once("close", () => (request.finishedAt = performance.now()));
    if (probe.delayMs > 0) setTimeout(() => dispatch(req, res), probe.delayMs);
    else dispatch(req, res);
  };
  server.removeAllListeners("request");
  server.on("request", watch);
  return probe;
}
