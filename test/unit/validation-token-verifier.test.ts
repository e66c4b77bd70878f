import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { createLocalCa } from "../../emulator/tls/local-ca.ts";
import type { ValidationTokenVerifier } from "../../src/core/message-ports.ts";
import {
  createValidationTokenVerifier,
  GRAPH_CHANGE_TRACKING_APP_ID,
} from "../../src/microsoft/validation-token-verifier.ts";

const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const APP = "11111111-2222-3333-4444-555555555555";
const TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const OTHER_TENANT = "99999999-8888-7777-6666-555555555555";
const EXPECTED = { appIds: [APP], tenantIds: [TENANT] };

type Key = { kid: string; privateKey: CryptoKey; jwk: JWK };
type CryptoKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, use: "sig", kty: "RSA" } };
}

let server: Server;
let caPem: string;
let jwksUrl: string;
/** What the key server publishes now, and how it answers. */
let published: Key[] = [];
let serverStatus = 200;
let hits = 0;
let now = T0;
let keyA: Key;
let keyB: Key;
let keyC: Key;

before(async () => {
  const ca = await createLocalCa();
  caPem = ca.caCertPem;
  [keyA, keyB, keyC] = await Promise.all([newKey("key-a"), newKey("key-b"), newKey("key-c")]);
  server = createServer({ cert: ca.certPem, key: ca.keyPem }, (req, res) => {
    hits += 1;
    if (req.url !== "/common/discovery/v2.0/keys" || serverStatus !== 200) {
      res.writeHead(serverStatus === 200 ? 404 : serverStatus).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/common/discovery/v2.0/keys`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

let verifier: ValidationTokenVerifier;
beforeEach(() => {
  published = [keyA];
  serverStatus = 200;
  hits = 0;
  now = T0;
  verifier = createValidationTokenVerifier({ jwksUrl, extraCaPem: caPem, timeoutMs: 2000, now: () => now });
});

interface Mint {
  version?: "1.0" | "2.0";
  key?: Key;
  kid?: string;
  claims?: Record<string, unknown>;
  iat?: number;
  lifetimeSeconds?: number;
}

/** A token shaped like Graph's (reference §6), signed with a test key. */
function mint(options: Mint = {}): Promise<string> {
  const version = options.version ?? "2.0";
  const tid = TENANT;
  const base: Record<string, unknown> =
    version === "1.0"
      ? {
          iss: `https://sts.windows.net/${tid}/`,
          appid: GRAPH_CHANGE_TRACKING_APP_ID,
          appidacr: "2",
          ver: "1.0",
        }
      : {
          iss: `https://login.microsoftonline.com/${tid}/v2.0`,
          azp: GRAPH_CHANGE_TRACKING_APP_ID,
          azpacr: "2",
          ver: "2.0",
        };
  const claims: Record<string, unknown> = { ...base, aud: APP, tid, oid: "o", sub: "s", ...options.claims };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  const key = options.key ?? keyA;
  const iat = options.iat ?? Math.floor(now / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: options.kid ?? key.kid })
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + (options.lifetimeSeconds ?? 3600))
    .sign(key.privateKey);
}

async function rejects(tokens: unknown, pattern: RegExp, expected = EXPECTED) {
  const result = await verifier.verify(tokens as string[], expected);
  assert.equal(result.ok, false, `expected a refusal matching ${pattern}`);
  if (!result.ok) {
    assert.match(result.reason, pattern);
    // Reasons are logged: they never carry the token itself.
    for (const token of Array.isArray(tokens) ? tokens : [])
      if (typeof token === "string" && token.length > 20) assert.ok(!result.reason.includes(token));
  }
  return result;
}

describe("validation token verifier: genuine tokens", () => {
  it("accepts a v1 token (sts.windows.net issuer, appid) and a v2 token (v2.0 issuer, azp)", async () => {
    const result = await verifier.verify(
      [await mint({ version: "1.0" }), await mint({ version: "2.0" })],
      EXPECTED,
    );
    assert.deepEqual(result, {
      ok: true,
      audiences: [
        { appId: APP, tenantId: TENANT },
        { appId: APP, tenantId: TENANT },
      ],
    });
    assert.equal(hits, 1, "the key set is fetched once and cached");
  });

  it("accepts a batch with tokens for several apps sharing the URL, reporting each pair", async () => {
    const OTHER_APP = "22222222-2222-3333-4444-555555555555";
    const other = await mint({
      claims: {
        aud: OTHER_APP,
        tid: OTHER_TENANT,
        iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0`,
      },
    });
    const result = await verifier.verify([await mint(), other], {
      appIds: [APP, OTHER_APP],
      tenantIds: [TENANT, OTHER_TENANT],
    });
    assert.ok(result.ok);
    assert.deepEqual(result.audiences, [
      { appId: APP, tenantId: TENANT },
      { appId: OTHER_APP, tenantId: OTHER_TENANT },
    ]);
  });

  it("allows a few minutes of clock skew on exp and nbf", async () => {
    const token = await mint({ lifetimeSeconds: 60 });
    now = T0 + 60_000 + 4 * 60_000;
    assert.deepEqual((await verifier.verify([token], EXPECTED)).ok, true);
    now = T0 - 4 * 60_000;
    assert.deepEqual((await verifier.verify([token], EXPECTED)).ok, true);
  });
});

describe("validation token verifier: refusals, each with its reason", () => {
  it("missing, null or empty validationTokens mean misconfiguration", async () => {
    for (const tokens of [undefined, null, []]) await rejects(tokens, /validationTokens missing/);
    await rejects([""], /token 1 of 1: not a non-empty string/);
  });

  it("expired", async () => {
    const token = await mint({ iat: Math.floor(T0 / 1000) - 7200, lifetimeSeconds: 3600 });
    await rejects([token], /token 1 of 1: expired/);
  });

  it("checked as of the notification's arrival: a backlog processed hours later still verifies, a late arrival does not", async () => {
    const arrivedAt = T0 - 3 * 3600_000;
    const token = await mint({ iat: Math.floor(arrivedAt / 1000) - 60, lifetimeSeconds: 3600 });
    assert.deepEqual((await verifier.verify([token], EXPECTED, arrivedAt)).ok, true);
    const late = await verifier.verify([token], EXPECTED, arrivedAt + 2 * 3600_000);
    assert.equal(late.ok, false);
    assert.match((late as { reason: string }).reason, /token 1 of 1: expired/);
    await rejects([token], /token 1 of 1: expired/);
  });

  it("not valid yet", async () => {
    const token = await mint({ iat: Math.floor(T0 / 1000) + 3600 });
    await rejects([token], /not valid yet|issued in the future/);
  });

  it("wrong audience", async () => {
    await rejects(
      [await mint({ claims: { aud: "33333333-0000-0000-0000-000000000000" } })],
      /aud is not this app/,
    );
  });

  it("wrong issuer", async () => {
    await rejects([await mint({ claims: { iss: `https://evil.example/${TENANT}/v2.0` } })], /issuer/);
    // The issuer's tenant must be the token's tid.
    await rejects(
      [await mint({ claims: { iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` } })],
      /issuer names a different tenant than tid/,
      { appIds: [APP], tenantIds: [TENANT, OTHER_TENANT] },
    );
  });

  it("wrong tenant", async () => {
    const token = await mint({
      claims: { tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` },
    });
    await rejects([token], /issuer is not an expected tenant/);
    await rejects([await mint({ claims: { tid: OTHER_TENANT } })], /tid "9999.*" is not an expected tenant/);
  });

  it("wrong publisher: appid in v1, azp in v2", async () => {
    const stranger = "44444444-0000-0000-0000-000000000000";
    await rejects(
      [await mint({ version: "1.0", claims: { appid: stranger } })],
      /appid "4444.*" is not Microsoft Graph Change Tracking/,
    );
    await rejects(
      [await mint({ version: "2.0", claims: { azp: stranger } })],
      /azp "4444.*" is not Microsoft Graph Change Tracking/,
    );
    // A v1 token must carry appid: an azp alone does not do.
    await rejects(
      [await mint({ version: "1.0", claims: { appid: undefined, azp: GRAPH_CHANGE_TRACKING_APP_ID } })],
      /appid \(missing\)/,
    );
    await rejects(
      [await mint({ version: "2.0", claims: { ver: "1.0" } })],
      /ver "1.0" does not match the v2 issuer/,
    );
  });

  it("bad signature: another key under a published kid", async () => {
    await rejects([await mint({ key: keyB, kid: keyA.kid })], /signature does not verify/);
  });

  it("an unsigned or HMAC token", async () => {
    const hs = await new SignJWT({ aud: APP })
      .setProtectedHeader({ alg: "HS256", kid: keyA.kid })
      .sign(new TextEncoder().encode("a shared secret of enough length!"));
    await rejects([hs], /not signed with RS256/);
    await rejects(["not.a.jwt"], /malformed/);
  });

  it("every token of the batch must pass", async () => {
    const good = await mint();
    const bad = await mint({ claims: { aud: "33333333-0000-0000-0000-000000000000" } });
    await rejects([good, bad], /^validation token 2 of 2: aud/);
  });
});

describe("validation token verifier: signing keys", () => {
  it("refetches the key set on an unknown kid (keys rotated) and then accepts the new key", async () => {
    assert.ok((await verifier.verify([await mint()], EXPECTED)).ok);
    assert.equal(hits, 1);
    published = [keyA, keyB];
    now += 60_000;
    assert.ok((await verifier.verify([await mint({ key: keyB })], EXPECTED)).ok);
    assert.equal(hits, 2);
    // Known keys need no further fetch.
    assert.ok((await verifier.verify([await mint({ key: keyB }), await mint()], EXPECTED)).ok);
    assert.equal(hits, 2);
  });

  it("refetches at most once per cooldown; an unknown kid inside it is retryable, after it a refusal", async () => {
    assert.ok((await verifier.verify([await mint()], EXPECTED)).ok);
    const unknown = await mint({ key: keyC });
    const soon = await rejects([unknown], /unknown key/);
    assert.equal(hits, 1, "no refetch within the cooldown");
    assert.equal(!soon.ok && soon.retryable, true);
    now += 31_000;
    const later = await rejects([unknown], /unknown key/);
    assert.equal(hits, 2);
    assert.equal(!later.ok && later.retryable, undefined);
  });

  it("an unreachable key set is retryable, not a verdict on the token", async () => {
    serverStatus = 503;
    const result = await rejects([await mint()], /signing keys unavailable: .*HTTP 503/);
    assert.equal(!result.ok && result.retryable, true);
    serverStatus = 200;
    assert.ok((await verifier.verify([await mint()], EXPECTED)).ok);
  });

  it("keeps using known keys when a periodic refresh fails", async () => {
    assert.ok((await verifier.verify([await mint()], EXPECTED)).ok);
    serverStatus = 500;
    now += 2 * 3_600_000;
    assert.ok((await verifier.verify([await mint()], EXPECTED)).ok);
    assert.equal(hits, 2, "it tried to refresh");
  });

  it("trusts the key set's host only through the configured CA", async () => {
    const strict = createValidationTokenVerifier({ jwksUrl, timeoutMs: 2000, now: () => now });
    const result = await strict.verify([await mint()], EXPECTED);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : "", /signing keys unavailable/);
  });
});
