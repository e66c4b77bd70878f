// Real local HTTP servers standing in for alert receivers (a generic webhook endpoint, Slack, Teams Workflows,
// Webex, Twilio). Each records what arrived and answers as told, so tests assert on the wire, not on a fake.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json: any;
  /** The body parsed as a form, when it is `application/x-www-form-urlencoded`. */
  form: URLSearchParams | undefined;
  receivedAt: number;
}

export interface ReceiverAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (a slow receiver; longer than the sender's timeout means a timeout). */
  delayMs?: number;
}

export interface HttpReceiver {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  /** TCP connections accepted: a canary that must stay 0 when a target is refused. */
  readonly connections: number;
  /** The answer when nothing is queued and `respond` returns nothing. Default 200 `{"ok":true}`. */
  defaultAnswer: ReceiverAnswer;
  /** Decides per request (by path, body…); `undefined` falls through to the queue and the default. */
  respond: ((request: RecordedRequest) => ReceiverAnswer | undefined) | undefined;
  /** The next `times` requests get `answer`, then the receiver goes back to its default. */
  queue(answer: ReceiverAnswer, times?: number): void;
  /** The next `times` requests fail with `status` (default 500), then the receiver recovers. */
  failNext(times: number, status?: number): void;
  /** The next request gets 429 with this `Retry-After` (seconds or an HTTP date). */
  throttleNext(retryAfter: string): void;
  /** The next request gets 410 Gone (the receiver's way to say "stop sending"). */
  goneNext(): void;
  /** Resolves once at least `count` requests arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  /** Forgets requests, queued answers and `respond`; keeps the default answer. */
  reset(): void;
  close(): Promise<void>;
}

export async function startHttpReceiver(
  options: { defaultAnswer?: ReceiverAnswer } = {},
): Promise<HttpReceiver> {
  const queued: ReceiverAnswer[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let connections = 0;
  const receiver = {
    url: "",
    port: 0,
    requests: [] as RecordedRequest[],
    get connections() {
      return connections;
    },
    defaultAnswer: options.defaultAnswer ?? {
      status: 200,
      headers: { "content-type": "application/json" },
      body: '{"ok":true}',
    },
    respond: undefined as HttpReceiver["respond"],
    queue(answer: ReceiverAnswer, times = 1) {
      for (let i = 0; i < times; i++) queued.push(answer);
    },
    failNext(times: number, status = 500) {
      receiver.queue({ status, body: "receiver failure" }, times);
    },
    throttleNext(retryAfter: string) {
      receiver.queue({ status: 429, headers: { "retry-after": retryAfter }, body: "slow down" });
    },
    goneNext() {
      receiver.queue({ status: 410, body: "gone" });
    },
    waitForRequests(count: number, timeoutMs = 5000) {
      if (receiver.requests.length >= count) return Promise.resolve(receiver.requests);
      return new Promise<RecordedRequest[]>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} requests, got ${receiver.requests.length}`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(receiver.requests);
          },
        });
      });
    },
    reset() {
      receiver.requests.length = 0;
      queued.length = 0;
      receiver.respond = undefined;
      connections = 0;
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://receiver");
      const body = Buffer.concat(chunks).toString("utf8");
      const contentType = req.headers["content-type"] ?? "";
      const record: RecordedRequest = {
        method: req.method ?? "",
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        json: contentType.includes("json") ? parseJson(body) : undefined,
        form: contentType.includes("x-www-form-urlencoded") ? new URLSearchParams(body) : undefined,
        receivedAt: Date.now(),
      };
      receiver.requests.push(record);
      for (const waiter of [...waiters]) {
        if (receiver.requests.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      const answer = receiver.respond?.(record) ?? queued.shift() ?? receiver.defaultAnswer;
      const reply = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, answer.headers ?? {});
        res.end(answer.body ?? "");
      };
      if (!answer.delayMs) return reply();
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply();
      }, answer.delayMs);
      timers.add(timer);
    });
  });
  server.on("connection", () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}

function parseJson(body: string): any {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
