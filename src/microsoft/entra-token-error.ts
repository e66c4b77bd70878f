import type { TokenFailureInfo } from "../core/ports.ts";

/**
 * What is known about a failed Entra token request: the network client's record of the HTTP exchange plus
 * msal's error fields. Holds no tokens, codes, secrets or error descriptions. Classify it with
 * `classifyTokenFailure` (src/core/token-failure.ts), which takes this shape.
 */
export interface EntraFailure extends TokenFailureInfo {
  /** Entra's `trace_id` and `correlation_id`: what Microsoft support asks for. */
  traceId?: string;
  correlationId?: string;
}

export type EntraOperation = "redeem" | "refresh";

/** A failed code redemption or refresh. Plain on purpose: callers classify `failure`, not the message. */
export class EntraTokenError extends Error {
  readonly operation: EntraOperation;
  readonly failure: Readonly<EntraFailure>;

  constructor(operation: EntraOperation, failure: EntraFailure) {
    super(describeFailure(operation, failure));
    this.name = "EntraTokenError";
    this.operation = operation;
    this.failure = Object.freeze({ ...failure });
  }
}

function describeFailure(operation: EntraOperation, failure: EntraFailure): string {
  const what = operation === "redeem" ? "Authorization code redemption" : "Token refresh";
  const parts: string[] = [];
  if (failure.transport !== undefined) parts.push(failure.transport);
  if (failure.status !== undefined) parts.push(`HTTP ${failure.status}`);
  if (failure.error) parts.push(failure.error);
  if (failure.subError) parts.push(`suberror ${failure.subError}`);
  if (failure.aadsts !== undefined) parts.push(`AADSTS${failure.aadsts}`);
  if (failure.retryAfterMs !== undefined) parts.push(`retry after ${failure.retryAfterMs} ms`);
  if (failure.traceId) parts.push(`trace ${failure.traceId}`);
  if (failure.correlationId) parts.push(`correlation ${failure.correlationId}`);
  return `${what} failed${parts.length > 0 ? `: ${parts.join(", ")}` : ""}`;
}
