// msal-node `INetworkModule` (`system.networkClient`) for Entra ID.
// Why our own: MSAL refuses non-https authorities, so tests keep the real authority and this client rewrites
// its origin to the emulator; MSAL drops the HTTP status and Retry-After of token errors (ServerError.status is
// undefined, reference/entra-auth-and-stack.md §2.1), so this client records them for our error classifier.
// node:https rather than fetch: Node 20's fetch cannot trust an extra CA per request without undici's Agent.
import * as http from "node:http";
import * as https from "node:https";
import type { SecureContext } from "node:tls";
import { parseRetryAfter } from "../core/parse-retry-after.ts";
import { trustedContext } from "./trusted-context.ts";
import {
  AuthError,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from "@azure/msal-node";

export const ENTRA_LOGIN_ORIGIN = "https://login.microsoftonline.com";

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * What the last exchange with Entra looked like, for classifying MSAL errors. Holds nothing from the request
 * and, from the response, only the fields below: never tokens, secrets, codes or error descriptions.
 */
export interface EntraResponseInfo {
  method: "GET" | "POST";
  /** Origin and path actually called (after the rewrite), without the query. */
  endpoint: string;
  /** Absent when no response arrived. */
  status?: number;
  failure?: "timeout" | "network" | "invalid_body";
  /** From `Retry-After` (delta-seconds, possibly fractional, or an HTTP date), in milliseconds from now. */
  retryAfterMs?: number;
  /** Entra error body fields: https://learn.microsoft.com/entra/identity-platform/reference-error-codes */
  error?: string;
  errorCodes?: number[];
  subError?: string;
  traceId?: string;
  correlationId?: string;
  durationMs: number;
}

export interface EntraNetworkClientOptions {
  /** Where `https://login.microsoftonline.com` requests go instead, e.g. the emulator's `https://127.0.0.1:PORT`. */
  loginBaseUrl?: string;
  /** PEM of a CA trusted in addition to Node's bundled roots (the emulator's self-signed CA). */
  extraCaPem?: string;
  /** Whole-exchange timeout; MSAL's own per-call timeout wins when it passes one. */
  timeoutMs?: number;
  onResponse?: (info: EntraResponseInfo) => void;
  now?: () => number;
}

export class EntraNetworkClient implements INetworkModule {
  /** The most recent exchange, also passed to `onResponse`. */
  lastResponse: EntraResponseInfo | undefined;

  readonly #loginBase: URL | undefined;
  readonly #secureContext: SecureContext | undefined;
  readonly #timeoutMs: number;
  readonly #onResponse: ((info: EntraResponseInfo) => void) | undefined;
  readonly #now: () => number;

  constructor(options: EntraNetworkClientOptions = {}) {
    this.#loginBase =
      options.loginBaseUrl === undefined ? undefined : parseLoginBaseUrl(options.loginBaseUrl);
    this.#secureContext = options.extraCaPem === undefined ? undefined : trustedContext(options.extraCaPem);
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#onResponse = options.onResponse;
    this.#now = options.now ?? Date.now;
  }

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    return this.#send<T>("GET", url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.#send<T>("POST", url, options, undefined);
  }

  /** Maps a login.microsoftonline.com URL onto the configured base, keeping path and query. */
  rewriteUrl(url: string): URL {
    const target = new URL(url);
    const base = this.#loginBase;
    if (base === undefined || target.origin !== ENTRA_LOGIN_ORIGIN) return target;
    const prefix = base.pathname.replace(/\/+$/, "");
    return new URL(`${base.origin}${prefix}${target.pathname}${target.search}`);
  }

  async #send<T>(
    method: "GET" | "POST",
    url: string,
    options: NetworkRequestOptions | undefined,
    timeout: number | undefined,
  ): Promise<NetworkResponse<T>> {
    const target = this.rewriteUrl(url);
    const endpoint = `${target.origin}${target.pathname}`;
    const timeoutMs = timeout !== undefined && timeout > 0 ? timeout : this.#timeoutMs;
    const correlationId = options?.correlationId ?? "";
    const started = this.#now();

    let raw: RawResponse;
    try {
      raw = await this.#exchange(method, target, options, timeoutMs);
    } catch (err) {
      const timedOut = err instanceof TimeoutError;
      this.#record({
        method,
        endpoint,
        failure: timedOut ? "timeout" : "network",
        durationMs: this.#now() - started,
      });
      const detail = timedOut
        ? `Entra request timed out after ${timeoutMs} ms: ${method} ${endpoint}`
        : `Entra request failed: ${method} ${endpoint}: ${err instanceof Error ? err.message : String(err)}`;
      throw new AuthError("network_error", correlationId, detail);
    }

    const headers = flattenHeaders(raw.headers);
    const info: EntraResponseInfo = {
      method,
      endpoint,
      status: raw.status,
      durationMs: this.#now() - started,
    };
    const retryAfterMs = parseRetryAfter(headers["retry-after"], this.#now());
    if (retryAfterMs !== undefined) info.retryAfterMs = retryAfterMs;

    let body: unknown;
    try {
      body = JSON.parse(raw.body.toString("utf8"));
    } catch {
      this.#record({ ...info, failure: "invalid_body" });
      throw new AuthError(
        "token_parsing_error",
        correlationId,
        `Entra answered HTTP ${raw.status} without a JSON body: ${method} ${endpoint}`,
      );
    }
    this.#record({ ...info, ...entraErrorFields(body) });
    return { headers, body: body as T, status: raw.status };
  }

  #record(info: EntraResponseInfo): void {
    this.lastResponse = info;
    try {
      this.#onResponse?.(info);
    } catch {
      // Bookkeeping must never turn a good token response into a failure.
    }
  }

  #exchange(
    method: "GET" | "POST",
    target: URL,
    options: NetworkRequestOptions | undefined,
    timeoutMs: number,
  ): Promise<RawResponse> {
    const payload = method === "POST" ? Buffer.from(options?.body ?? "", "utf8") : undefined;
    const headers: Record<string, string> = { ...options?.headers };
    if (payload !== undefined) headers["content-length"] = String(payload.length);
    const requestOptions: https.RequestOptions & { secureContext?: SecureContext } = {
      method,
      headers,
      agent: false,
    };
    if (target.protocol === "https:" && this.#secureContext !== undefined)
      requestOptions.secureContext = this.#secureContext;
    const request = target.protocol === "https:" ? https.request : http.request;

    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, value?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err !== undefined) {
          req.destroy();
          reject(err);
        } else if (value !== undefined) {
          resolve(value);
        }
      };
      const req = request(target, requestOptions, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) finish(new Error(`response body larger than ${MAX_BODY_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on("end", () =>
          finish(undefined, {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on("error", (err) => finish(err));
        res.on("close", () => {
          if (!res.complete) finish(new Error("connection closed before the response was complete"));
        });
      });
      req.on("error", (err) => finish(err));
      // Armed after request() so a synchronous throw (e.g. an invalid header) leaves no timer behind.
      const timer = setTimeout(() => finish(new TimeoutError()), timeoutMs);
      req.end(payload);
    });
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

class TimeoutError extends Error {}

function entraErrorFields(body: unknown): Partial<EntraResponseInfo> {
  if (typeof body !== "object" || body === null) return {};
  const b = body as Record<string, unknown>;
  const fields: Partial<EntraResponseInfo> = {};
  if (typeof b.error === "string") fields.error = b.error;
  if (Array.isArray(b.error_codes)) {
    const codes = b.error_codes.map(Number).filter((n) => Number.isInteger(n));
    if (codes.length > 0) fields.errorCodes = codes;
  }
  if (typeof b.suberror === "string") fields.subError = b.suberror;
  if (typeof b.trace_id === "string") fields.traceId = b.trace_id;
  if (typeof b.correlation_id === "string") fields.correlationId = b.correlation_id;
  return fields;
}

/** MSAL reads headers by lower-case name (msal-common NetworkResponse). */
function flattenHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

function parseLoginBaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`loginBaseUrl is not an absolute URL: ${text}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error(`loginBaseUrl must use https: or http:, got ${url.protocol}`);
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new Error("loginBaseUrl must not carry a query, fragment or credentials");
  }
  return url;
}
