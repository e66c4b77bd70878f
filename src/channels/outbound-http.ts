import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { rootCertificates } from "node:tls";
import type { ChannelSendResult } from "../core/alert.ts";
import type { HostLookup, ResolvedAddress } from "./channel.ts";
import { sendResultForAnswer, sendResultForNetworkError } from "./http-send-result.ts";
import { parseOutboundUrl } from "./outbound-url.ts";
import { resolveOutboundTarget } from "./resolve-outbound-target.ts";
import { scrubSecrets } from "./scrub-secrets.ts";

export interface OutboundHttpOptions {
  allowPrivateTargets: boolean;
  timeoutMs: number;
  lookup: HostLookup;
  extraCaPem?: string;
  now: () => number;
}

export interface OutboundPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Every secret involved (URL, tokens, authorization values): scrubbed from the result's detail. */
  secrets: readonly string[];
  signal?: AbortSignal;
}

/** The one way channels send HTTP: checked target, pinned address, one timeout, no redirects, capped answers. */
export interface OutboundHttp {
  post(request: OutboundPost): Promise<ChannelSendResult>;
}

// Enough for any error message; a hostile receiver cannot make the relay buffer more (test plan B31).
const MAX_ANSWER_BYTES = 64 * 1024;
const USER_AGENT = "teams-emergency-relay";

export function createOutboundHttp(options: OutboundHttpOptions): OutboundHttp {
  const ca = options.extraCaPem ? [...rootCertificates, options.extraCaPem] : undefined;
  const isAllowed = options.allowPrivateTargets ? () => true : (category: string) => category === "public";

  async function attempt(request: OutboundPost, signal: AbortSignal): Promise<ChannelSendResult> {
    const checked = parseOutboundUrl(request.url, options.allowPrivateTargets);
    if (!checked.ok)
      return { outcome: "failed", status: null, detail: `target refused: URL ${checked.reason}` };
    const url = checked.url;
    const target = await resolveOutboundTarget(url.hostname, { lookup: options.lookup, isAllowed, signal });
    if (!target.ok) return { outcome: "failed", status: null, detail: target.detail };
    const body = Buffer.from(request.body, "utf8");
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const answer = await new Promise<{ response: IncomingMessage; text: string }>((resolve, reject) => {
      const outgoing = send(
        {
          protocol: url.protocol,
          hostname: url.hostname.replace(/^\[|\]$/g, ""),
          port: url.port || undefined,
          path: `${url.pathname}${url.search}`,
          method: "POST",
          headers: {
            "user-agent": USER_AGENT,
            ...request.headers,
            "content-length": String(body.length),
            connection: "close",
          },
          // A fresh connection to the checked address: no pooled socket that another name resolved to.
          agent: false,
          lookup: pinnedLookup(target.addresses),
          signal,
          ...(ca ? { ca } : {}),
        },
        (response) => {
          readCapped(response).then((text) => resolve({ response, text }), reject);
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
    const retryAfter = answer.response.headers["retry-after"];
    return sendResultForAnswer(
      {
        status: answer.response.statusCode ?? 0,
        statusText: answer.response.statusMessage ?? "",
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        contentType: answer.response.headers["content-type"],
        body: answer.text,
      },
      options.now(),
    );
  }

  return {
    async post(request) {
      const timeout = AbortSignal.timeout(options.timeoutMs);
      const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
      let result: ChannelSendResult;
      try {
        result = signal.aborted
          ? sendResultForNetworkError(undefined, "aborted", options.timeoutMs)
          : await attempt(request, signal);
      } catch (error) {
        const cause = timeout.aborted ? "timeout" : request.signal?.aborted ? "aborted" : undefined;
        result = sendResultForNetworkError(error, cause, options.timeoutMs);
      }
      return { ...result, detail: scrubSecrets(result.detail ?? "", request.secrets) } as ChannelSendResult;
    },
  };
}

/** Answers Node's connect-time lookup with the addresses already checked, in both of its calling forms. */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return ((_hostname: string, lookupOptions: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const first = addresses[0]!;
    if (lookupOptions?.all)
      callback(
        null,
        addresses.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, first.address, first.family);
  }) as LookupFunction;
}

function readCapped(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => resolve(Buffer.concat(chunks).toString("utf8"));
    response.on("data", (chunk: Buffer) => {
      if (size >= MAX_ANSWER_BYTES) return;
      chunks.push(chunk.subarray(0, MAX_ANSWER_BYTES - size));
      size += chunk.length;
      if (size >= MAX_ANSWER_BYTES) {
        response.destroy();
        finish();
      }
    });
    response.on("end", finish);
    // The status line and headers already arrived; a body cut short (timeout, reset) does not change them.
    response.on("error", finish);
    response.on("close", finish);
  });
}
