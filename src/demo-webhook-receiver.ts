// The demo's stand-in for the systems alerts go to: a local HTTP endpoint that accepts the generic webhook
// channel's requests and shows each alert as it arrives. Signatures are not checked here; the channel tests do.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AlertMessage } from "./core/alert.ts";

export interface ReceivedAlert {
  path: string;
  webhookId: string | undefined;
  alert: AlertMessage;
}

export interface DemoWebhookReceiver {
  url: string;
  received: ReceivedAlert[];
  /** Resolves with the first alert (from now on or already received) that `match` accepts. */
  waitFor(match: (received: ReceivedAlert) => boolean, timeoutMs: number): Promise<ReceivedAlert>;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

export async function startDemoWebhookReceiver(
  onAlert: (received: ReceivedAlert) => void,
): Promise<DemoWebhookReceiver> {
  const received: ReceivedAlert[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on("end", () => {
      let alert: AlertMessage | undefined;
      try {
        alert = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data?: AlertMessage }).data;
      } catch {
        alert = undefined;
      }
      if (req.method !== "POST" || alert === undefined || size > MAX_BODY) {
        res.writeHead(400).end();
        return;
      }
      const header = req.headers["webhook-id"];
      const entry = {
        path: req.url ?? "/",
        webhookId: typeof header === "string" ? header : undefined,
        alert,
      };
      // Standard Webhooks senders retry; a receiver shows each message id once.
      if (!received.some((r) => r.webhookId !== undefined && r.webhookId === entry.webhookId)) {
        received.push(entry);
        onAlert(entry);
        for (const wake of waiters) wake();
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    waitFor(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.find(match);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching alert reached the demo receiver within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
