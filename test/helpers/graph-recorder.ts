import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import type { Emulator } from "../../emulator/index.ts";

export interface RecordedGraphCall {
  method: string;
  /** Path without the query, e.g. `/v1.0/subscriptions/{id}`. */
  path: string;
  /** What the relay received (502 when `loseResponse` ate it). */
  status: number;
  /** What the emulator answered. */
  upstreamStatus: number;
  /** When the call arrived, by the recorder's clock (the test's fake clock when one was given). */
  at: number;
}

/**
 * A plain-HTTP pass-through in front of the emulator's Graph endpoints (use its `url` as RELAY_GRAPH_BASE_URL): it
 * records every call the relay makes, and can lose the answer to a call that did reach Graph, as a crash or a
 * network cut between Graph's reply and the relay's bookkeeping would.
 */
export interface GraphRecorder {
  url: string;
  calls: RecordedGraphCall[];
  /** The next call matching this (after Graph processed it) is answered 502 instead of Graph's answer. */
  loseResponse(match: { method: string; path: RegExp }): void;
  callsTo(method: string, path: RegExp): RecordedGraphCall[];
  close(): Promise<void>;
}

export async function startGraphRecorder(
  emu: Emulator,
  options: { now?: () => number } = {},
): Promise<GraphRecorder> {
  const now = options.now ?? (() => Date.now());
  const upstream = new URL(emu.url);
  const lose: { method: string; path: RegExp }[] = [];
  const recorder: GraphRecorder = {
    url: "",
    calls: [],
    loseResponse: (match) => void lose.push(match),
    callsTo: (method, path) => recorder.calls.filter((c) => c.method === method && path.test(c.path)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    const at = now();
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? "/").split("?")[0]!;
      const method = req.method ?? "GET";
      const forward = httpsRequest(
        {
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method,
          headers: { ...req.headers, host: upstream.host },
          ca: emu.caPem ?? undefined,
          agent: false,
        },
        (answer) => {
          const answerChunks: Buffer[] = [];
          answer.on("data", (c: Buffer) => answerChunks.push(c));
          answer.on("end", () => {
            const upstreamStatus = answer.statusCode ?? 0;
            const index = lose.findIndex((m) => m.method === method && m.path.test(path));
            if (index !== -1) {
              lose.splice(index, 1);
              recorder.calls.push({ method, path, status: 502, upstreamStatus, at });
              res.writeHead(502, { "content-type": "text/plain" });
              res.end("connection lost");
              return;
            }
            recorder.calls.push({ method, path, status: upstreamStatus, upstreamStatus, at });
            const headers = { ...answer.headers };
            delete headers["transfer-encoding"];
            res.writeHead(upstreamStatus, headers);
            res.end(Buffer.concat(answerChunks));
          });
        },
      );
      forward.on("error", (error) => {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  recorder.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return recorder;
}
