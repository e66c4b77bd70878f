import { newGuid } from "../ids.ts";

/** Graph's error envelope (https://learn.microsoft.com/graph/errors). */
export class GraphError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
  body(nowMs: number, clientRequestId?: string) {
    const requestId = newGuid();
    return {
      error: {
        code: this.code,
        message: this.message,
        innerError: {
          date: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, ""),
          "request-id": requestId,
          "client-request-id": clientRequestId ?? requestId,
        },
      },
    };
  }
}
