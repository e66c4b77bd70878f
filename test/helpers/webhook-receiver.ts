import { createServer as createHttpsServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createLocalCa } from "../../emulator/tls/local-ca.ts";

export interface ReceivedRequest {
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  body: string;
  json: any;
}

/** What the receiver answers; a function decides per request. The default behaves like a correct relay. */
export type Behaviour = (
  req: ReceivedRequest,
) => { status?: number; contentType?: string; body?: string; delayMs?: number } | undefined;

export const correctBehaviour: Behaviour = (req) => {
  const token = req.query.get("validationToken");
  if (token !== null) return { status: 200, contentType: "text/plain; charset=utf-8", body: token };
  return { status: 202, body: "" };
};

/** A real HTTPS webhook endpoint with its own CA, standing in for the relay in emulator tests. */
export interface WebhookReceiver {
  url: string;
  caPem: string;
  received: ReceivedRequest[];
  notifications(path?: string): any[];
  behaviour: Behaviour;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const ca = await createLocalCa();
  const receiver: WebhookReceiver = {
    url: "",
    caPem: ca.caCertPem,
    received: [],
    behaviour: correctBehaviour,
    notifications(path) {
      return receiver.received
        .filter((r) => !r.query.has("validationToken") && (!path || r.path === path))
        .flatMap((r) => (r.json?.value as any[]) ?? []);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = createHttpsServer(
    { cert: ca.certPem, key: ca.keyPem },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const url = new URL(req.url ?? "/", "https://receiver");
        const body = Buffer.concat(chunks).toString("utf8");
        let json: any;
        try {
          json = body ? JSON.parse(body) : undefined;
        } catch {
          json = undefined;
        }
        const record: ReceivedRequest = {
          path: url.pathname,
          query: url.searchParams,
          contentType: req.headers["content-type"],
          body,
          json,
        };
        receiver.received.push(record);
        const answer = receiver.behaviour(record) ?? correctBehaviour(record)!;
        const reply = () => {
          if (res.destroyed) return;
          res.writeHead(
            answer.status ?? 202,
            answer.contentType ? { "content-type": answer.contentType } : {},
          );
          res.end(answer.body ?? "");
        };
        if (answer.delayMs) setTimeout(reply, answer.delayMs);
        else reply();
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = receiver.close;
  receiver.close = async () => {
    server.closeAllConnections();
    await close();
  };
  return receiver;
}
