import * as http from "node:http";
import * as https from "node:https";
import type { SecureContext } from "node:tls";
import { parseRetryAfter } from "../core/parse-retry-after.ts";
import { trustedContext } from "./trusted-context.ts";

/** A Graph answer that was not 2xx, with what callers branch on. Never carries the bearer token. */
export class GraphRequestError extends Error {
  readonly status: number | null;
  readonly code: string | null;
  readonly retryAfterMs: number | null;
  readonly transport: "timeout" | "network" | null;
  constructor(
    message: string,
    details: {
      status: number | null;
      code: string | null;
      retryAfterMs: number | null;
      transport: "timeout" | "network" | null;
    },
  ) {
    super(message);
    this.status = details.status;
    this.code = details.code;
    this.retryAfterMs = details.retryAfterMs;
    this.transport = details.transport;
  }
}

export interface GraphResponse<T = any> {
  status: number;
  body: T;
}

export interface GraphClient {
  /** `path` is relative to `/v1.0` (e.g. `/subscriptions`) or an absolute `@odata.nextLink`. */
  request<T = any>(orgId: string, method: string, path: string, body?: object): Promise<GraphResponse<T>>;
  /** Follows `@odata.nextLink` until `shouldContinue` says stop or there are no more pages. */
  pages<T = any>(orgId: string, path: string, shouldContinue?: (page: T[]) => boolean): AsyncGenerator<T[]>;
}

export interface GraphClientOptions {
  baseUrl: string;
  accessToken(orgId: string): Promise<string>;
  extraCaPem?: string;
  timeoutMs?: number;
  /** Inline retries for 429/503/504 when `Retry-After` is short; longer waits surface to the caller's scheduler. */
  maxInlineRetries?: number;
  maxInlineWaitMs?: number;
  sleep(ms: number): Promise<void>;
}

const RETRYABLE = new Set([429, 503, 504]);

/**
 * A small Graph client: base URL from config (the emulator in tests), a delegated bearer per org, bounded retries
 * honouring Retry-After, and paging. The official SDK drops the bearer on non-Graph hosts and is being retired.
 */
export function createGraphClient(options: GraphClientOptions): GraphClient {
  const base = `${options.baseUrl.replace(/\/+$/, "")}/v1.0`;
  const secureContext: SecureContext | undefined = options.extraCaPem
    ? trustedContext(options.extraCaPem)
    : undefined;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxRetries = options.maxInlineRetries ?? 2;
  const maxWaitMs = options.maxInlineWaitMs ?? 5_000;

  function send(
    method: string,
    url: string,
    token: string,
    body?: object,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
    const target = new URL(url);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const requestOptions: https.RequestOptions & { secureContext?: SecureContext } = {
      method,
      agent: false,
      headers: {
        authorization: `Bearer ${token}`,
        accept: "application/json",
        // systemEventMessage is an evolvable enum member Graph hides without this header.
        prefer: "include-unknown-enum-members",
        ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
      },
      ...(target.protocol === "https:" && secureContext ? { secureContext } : {}),
    };
    const doRequest = target.protocol === "https:" ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = doRequest(target, requestOptions, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          });
        });
        res.on("error", (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      const timer = setTimeout(
        () =>
          req.destroy(
            Object.assign(new Error(`Graph did not answer within ${timeoutMs} ms`), { timedOut: true }),
          ),
        timeoutMs,
      );
      req.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      req.end(payload);
    });
  }

  async function request<T>(
    orgId: string,
    method: string,
    path: string,
    body?: object,
  ): Promise<GraphResponse<T>> {
    const url = path.startsWith("http") ? path : `${base}${path}`;
    const where = `${method} ${new URL(url).pathname}`;
    for (let attempt = 0; ; attempt++) {
      const token = await options.accessToken(orgId);
      let response;
      try {
        response = await send(method, url, token, body);
      } catch (error) {
        const timedOut = (error as { timedOut?: boolean }).timedOut === true;
        throw new GraphRequestError(`${where}: ${timedOut ? "timed out" : (error as Error).message}`, {
          status: null,
          code: null,
          retryAfterMs: null,
          transport: timedOut ? "timeout" : "network",
        });
      }
      const parsed = response.text ? safeJson(response.text) : undefined;
      if (response.status >= 200 && response.status < 300)
        return { status: response.status, body: parsed as T };
      const retryAfterMs = parseRetryAfter(header(response.headers["retry-after"]), Date.now()) ?? null;
      const backoff = retryAfterMs ?? 1000 * 2 ** attempt;
      if (RETRYABLE.has(response.status) && attempt < maxRetries && backoff <= maxWaitMs) {
        await options.sleep(backoff);
        continue;
      }
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new GraphRequestError(
        `${where}: ${response.status} ${error?.code ?? ""} ${error?.message ?? ""}`.trim(),
        {
          status: response.status,
          code: error?.code ?? null,
          retryAfterMs,
          transport: null,
        },
      );
    }
  }

  async function* pages<T>(
    orgId: string,
    path: string,
    shouldContinue?: (page: T[]) => boolean,
  ): AsyncGenerator<T[]> {
    let next: string | undefined = path;
    while (next) {
      const page: GraphResponse<{ value: T[]; "@odata.nextLink"?: string }> = await request(
        orgId,
        "GET",
        next,
      );
      yield page.body.value;
      if (shouldContinue && !shouldContinue(page.body.value)) return;
      next = page.body["@odata.nextLink"];
    }
  }

  return { request, pages };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
