import type { FastifyReply } from "fastify";

export interface EventStream {
  /** One server-sent event; the data is JSON (one line: JSON.stringify escapes line breaks). */
  send(event: string, data: unknown): void;
  close(): void;
  readonly closed: boolean;
  onClose(listener: () => void): void;
}

// A board that stops reading (a laptop asleep) is dropped rather than buffered for without end; it reconnects
// and gets a fresh snapshot.
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * Takes the response over for `text/event-stream`. Written to `reply.raw`, it skips fastify's onSend hooks, so
 * the web app's security headers are passed in and written here. `retryMs` tells the browser's EventSource
 * how soon to reconnect after the connection drops.
 */
export function openEventStream(
  reply: FastifyReply,
  headers: Record<string, string>,
  options: { retryMs: number },
): EventStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...headers,
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    // Reverse proxies (nginx) must pass events on at once, not buffer them.
    "x-accel-buffering": "no",
    connection: "keep-alive",
  });
  raw.write(`retry: ${options.retryMs}\n\n`);
  let closed = false;
  const listeners: (() => void)[] = [];
  const finish = () => {
    if (closed) return;
    closed = true;
    for (const listener of listeners) listener();
  };
  raw.on("close", finish);
  raw.on("error", finish);
  const stream: EventStream = {
    send(event, data) {
      if (closed) return;
      if (raw.writableLength > MAX_BUFFERED_BYTES) {
        stream.close();
        return;
      }
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    close() {
      if (!closed) raw.end();
      finish();
    },
    get closed() {
      return closed;
    },
    onClose(listener) {
      listeners.push(listener);
    },
  };
  return stream;
}
