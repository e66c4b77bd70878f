// Checks the `validationTokens` of Graph change notifications with resource data.
// https://learn.microsoft.com/graph/change-notifications-with-resource-data#validation-tokens-in-the-change-notification
// and reference/graph-change-notifications.md §6: RS256 with the identity platform's keys (refetched on an unknown
// `kid`), exp/nbf with a small skew, `aud` = our app, issuer in its v1 or v2 form for an expected tenant, `tid`, and
// the publisher (`appid` in v1, `azp` in v2) = Microsoft Graph Change Tracking. Every token of a batch must pass.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import type { ValidationTokenCheck, ValidationTokenVerifier } from "../core/message-ports.ts";
import { trustedContext } from "./trusted-context.ts";

/** The Microsoft Graph Change Tracking application, publisher of every genuine validation token. */
export const GRAPH_CHANGE_TRACKING_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086";

export interface ValidationTokenVerifierOptions {
  /** e.g. `https://login.microsoftonline.com/common/discovery/v2.0/keys` (`RELAY_JWKS_URL`). */
  jwksUrl: string;
  /** An extra CA for the key set's host (the emulator's, or a TLS-inspecting proxy's). */
  extraCaPem?: string;
  timeoutMs: number;
  now: () => number;
  /** Allowed clock difference for exp/nbf; default 5 minutes (what Microsoft's own libraries allow). */
  clockSkewMs?: number;
  /** Keys are refetched at least this often even when every `kid` is known; default 1 hour. */
  cacheMaxAgeMs?: number;
  /** An unknown `kid` refetches the key set at most this often; default 30 s. */
  refetchCooldownMs?: number;
}

const MAX_JWKS_BYTES = 1024 * 1024;

class JwksUnavailable extends Error {}

interface CachedKeys {
  fetchedAt: number;
  kids: Set<string>;
  resolve: JWTVerifyGetKey;
}

export function createValidationTokenVerifier(
  options: ValidationTokenVerifierOptions,
): ValidationTokenVerifier {
  const skewSeconds = Math.round((options.clockSkewMs ?? 5 * 60_000) / 1000);
  const maxAgeMs = options.cacheMaxAgeMs ?? 3_600_000;
  const cooldownMs = options.refetchCooldownMs ?? 30_000;
  let cache: CachedKeys | undefined;
  let inflight: Promise<CachedKeys> | undefined;

  function refetch(): Promise<CachedKeys> {
    inflight ??= fetchKeySet(options)
      .then((jwks) => {
        cache = {
          fetchedAt: options.now(),
          kids: new Set(jwks.keys.map((k) => k.kid).filter((k): k is string => typeof k === "string")),
          resolve: createLocalJWKSet(jwks),
        };
        return cache;
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  }

  /** The key set to verify a token with `kid`; `cooledDown` says an unknown kid could not trigger a refetch. */
  async function keysFor(kid: string | undefined): Promise<{ keys: CachedKeys; cooledDown: boolean }> {
    const now = options.now();
    const current = cache;
    if (current === undefined) return { keys: await refetch(), cooledDown: false };
    const stale = now - current.fetchedAt >= maxAgeMs;
    const unknown = kid === undefined || !current.kids.has(kid);
    if (!stale && !unknown) return { keys: current, cooledDown: false };
    if (!stale && now - current.fetchedAt < cooldownMs) return { keys: current, cooledDown: true };
    try {
      return { keys: await refetch(), cooledDown: false };
    } catch (error) {
      // Known keys keep working while the key set is unreachable; an unknown kid cannot be decided.
      if (!unknown) return { keys: current, cooledDown: false };
      throw error;
    }
  }

  async function checkOne(
    token: string,
    expected: { appIds: readonly string[]; tenantIds: readonly string[] },
    at: number,
  ): Promise<
    { ok: true; appId: string; tenantId: string } | { ok: false; reason: string; retryable?: boolean }
  > {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      kid = typeof header.kid === "string" ? header.kid : undefined;
    } catch {
      return { ok: false, reason: "malformed (not a JWS)" };
    }
    let keys: CachedKeys;
    let cooledDown: boolean;
    try {
      ({ keys, cooledDown } = await keysFor(kid));
    } catch (error) {
      return {
        ok: false,
        reason: `signing keys unavailable: ${(error as Error).message}`,
        retryable: true,
      };
    }
    const tenants = expected.tenantIds.map((t) => t.toLowerCase());
    const issuers = tenants.flatMap((tid) => [v1Issuer(tid), v2Issuer(tid)]);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys.resolve, {
        algorithms: ["RS256"],
        audience: [...expected.appIds],
        issuer: issuers,
        currentDate: new Date(at),
        clockTolerance: skewSeconds,
        requiredClaims: ["exp", "tid"],
      }));
    } catch (error) {
      const failure = describeJoseError(error);
      if (failure === "signed with an unknown key" && cooledDown)
        return {
          ok: false,
          reason: `${failure} (key set refetched moments ago; will retry)`,
          retryable: true,
        };
      return { ok: false, reason: failure };
    }

    const tid = typeof payload.tid === "string" ? payload.tid.toLowerCase() : "";
    if (!tenants.includes(tid))
      return { ok: false, reason: `tid ${short(payload.tid)} is not an expected tenant` };
    const iss = String(payload.iss);
    const isV1 = iss === v1Issuer(tid);
    if (!isV1 && iss !== v2Issuer(tid))
      return { ok: false, reason: "issuer names a different tenant than tid" };
    const version = payload.ver === undefined ? (isV1 ? "1.0" : "2.0") : String(payload.ver);
    if (version !== (isV1 ? "1.0" : "2.0"))
      return {
        ok: false,
        reason: `ver ${short(payload.ver)} does not match the ${isV1 ? "v1" : "v2"} issuer`,
      };
    const publisher = isV1 ? payload.appid : payload.azp;
    if (publisher !== GRAPH_CHANGE_TRACKING_APP_ID) {
      return {
        ok: false,
        reason: `${isV1 ? "appid" : "azp"} ${short(publisher)} is not Microsoft Graph Change Tracking`,
      };
    }
    const aud = Array.isArray(payload.aud)
      ? payload.aud.find((a) => expected.appIds.includes(a))
      : payload.aud;
    return { ok: true, appId: String(aud), tenantId: tid };
  }

  return {
    async verify(tokens, expected, receivedAt) {
      const at = receivedAt ?? options.now();
      // Null or missing tokens on a rich notification mean the Change Tracking service principal is misconfigured.
      if (!Array.isArray(tokens) || tokens.length === 0)
        return { ok: false, reason: "validationTokens missing on a notification with resource data" };
      if (expected.appIds.length === 0 || expected.tenantIds.length === 0)
        return { ok: false, reason: "no expected app or tenant to check validationTokens against" };
      const audiences: Array<{ appId: string; tenantId: string }> = [];
      for (const [index, token] of tokens.entries()) {
        const label = `validation token ${index + 1} of ${tokens.length}`;
        if (typeof token !== "string" || token === "")
          return { ok: false, reason: `${label}: not a non-empty string` };
        const result = await checkOne(token, expected, at);
        if (!result.ok) return { ...result, reason: `${label}: ${result.reason}` };
        audiences.push({ appId: result.appId, tenantId: result.tenantId });
      }
      return { ok: true, audiences };
    },
  };
}

const v1Issuer = (tid: string) => `https://sts.windows.net/${tid}/`;
const v2Issuer = (tid: string) => `https://login.microsoftonline.com/${tid}/v2.0`;

/** Claim values are GUIDs or URLs from a verified token; still bounded so a log line stays a line. */
function short(value: unknown): string {
  if (value === undefined || value === null) return "(missing)";
  return JSON.stringify(String(value).slice(0, 100));
}

function describeJoseError(error: unknown): string {
  const code = (error as { code?: string }).code;
  const claim = (error as { claim?: string }).claim;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return "expired";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (claim === "nbf") return "not valid yet (nbf)";
      if (claim === "aud") return "aud is not this app's client id";
      if (claim === "iss") return "issuer is not an expected tenant's v1 or v2 issuer";
      if (claim === "iat") return "issued in the future";
      return `claim ${claim ?? "?"} is missing or invalid`;
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "signature does not verify";
    case "ERR_JWKS_NO_MATCHING_KEY":
      return "signed with an unknown key";
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
      return "several keys match its kid";
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "not signed with RS256";
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return "malformed";
    default:
      return `could not be verified (${code ?? "unexpected error"})`;
  }
}

/** GET the key set over HTTPS with the extra CA (Node 20's fetch cannot take one), bounded in time and size. */
function fetchKeySet(options: ValidationTokenVerifierOptions): Promise<JSONWebKeySet> {
  const target = new URL(options.jwksUrl);
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (message: string) =>
      reject(new JwksUnavailable(`${target.host}${target.pathname}: ${message}`));
    const req = send(
      target,
      {
        method: "GET",
        agent: false,
        headers: { accept: "application/json" },
        minVersion: "TLSv1.2",
        ...(target.protocol === "https:" && options.extraCaPem
          ? { secureContext: trustedContext(options.extraCaPem) }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_JWKS_BYTES) req.destroy(new Error("key set larger than 1 MiB"));
          else chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(timer);
          if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}`);
          let body: unknown;
          try {
            body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            return fail("not JSON");
          }
          const keys = (body as { keys?: unknown } | null)?.keys;
          if (!Array.isArray(keys)) return fail("no keys array");
          resolve(body as JSONWebKeySet);
        });
        res.on("error", (error) => {
          clearTimeout(timer);
          fail(error.message);
        });
      },
    );
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    req.on("error", (error) => {
      clearTimeout(timer);
      fail(error.message);
    });
    req.end();
  });
}
