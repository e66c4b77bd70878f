import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { RelayError } from "../../src/core/errors.ts";
import type { SecretBox } from "../../src/core/secret-box.ts";
import type { TokenCachePersistence } from "../../src/core/token-cache.ts";
import { classifyTokenFailure, type FailureBucket } from "../../src/core/token-failure.ts";
import {
  createEntraClient,
  createPkcePair,
  randomUrlToken,
  RELAY_SCOPES,
  type AcquiredTokens,
  type EntraClient,
} from "../../src/microsoft/entra-client.ts";
import { EntraTokenError } from "../../src/microsoft/entra-token-error.ts";
import { TokenCacheStore } from "../../src/storage/token-cache-store.ts";
import { openTestDatabase } from "../helpers/databases.ts";
import { control, seedOrg, startEmulator, type Org } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest } from "../helpers/http-request.ts";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

// Far from the system clock, so a token expiry computed from the system clock (msal's expiresOn) would show.
const clock = new FakeClock("2031-05-04T08:00:00.000Z");
let emu: Emulator;
let org: Org;
let entra: EntraClient;

before(async () => {
  emu = await startEmulator({ clock });
  org = await seedOrg(emu);
  entra = createEntraClient({ loginBaseUrl: emu.url, extraCaPem: emu.caPem! });
});
after(() => emu.close());

/** A cache row in memory; each `persistence()` is a new object over it, like another instance would use. */
function memoryCache() {
  const row = { blob: undefined as string | undefined, saves: 0 };
  return {
    row,
    persistence(): TokenCachePersistence {
      return {
        load: async () => row.blob,
        save: async (serialized) => {
          row.blob = serialized;
          row.saves++;
        },
      };
    },
  };
}

function refreshTokenIn(blob: string | undefined): string {
  assert.ok(blob, "a cache was saved");
  const parsed = JSON.parse(blob) as { RefreshToken: Record<string, { secret: string }> };
  const entries = Object.values(parsed.RefreshToken);
  assert.equal(entries.length, 1, "one refresh token in the cache");
  return entries[0]!.secret;
}

/** Browser part of the connect flow: follow the authorize URL, return the callback's query. */
async function authorize(target: Org, options: { loginHint?: string } = {}) {
  const pkce = createPkcePair();
  const state = randomUrlToken();
  const nonce = randomUrlToken();
  const url = entra.buildAuthorizeUrl(target, {
    redirectUri: target.redirectUri,
    state,
    nonce,
    codeChallenge: pkce.challenge,
    loginHint: options.loginHint ?? target.serviceUser.userPrincipalName,
  });
  const browser = await httpRequest(url, { ca: emu.caPem });
  assert.equal(browser.status, 302, browser.text);
  const callback = new URL(String(browser.headers.location));
  assert.equal(`${callback.origin}${callback.pathname}`, target.redirectUri);
  assert.equal(callback.searchParams.get("state"), state);
  const code = callback.searchParams.get("code");
  assert.ok(code, "the callback carries a code");
  return { url, code, state, nonce, verifier: pkce.verifier, challenge: pkce.challenge };
}

async function connect(target: Org, cache: TokenCachePersistence): Promise<AcquiredTokens> {
  const { code, state, nonce, verifier } = await authorize(target);
  return entra.redeemCode(target, cache, {
    code,
    codeVerifier: verifier,
    redirectUri: target.redirectUri,
    nonce,
    state,
  });
}

/** Runs `fn`, expects an EntraTokenError, checks its bucket and returns it. */
async function expectFailure(fn: () => Promise<unknown>, bucket: FailureBucket): Promise<EntraTokenError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof EntraTokenError, `expected EntraTokenError, got ${String(caught)}`);
  const classified = classifyTokenFailure(caught.failure);
  assert.equal(classified.bucket, bucket, `${caught.message} -> ${classified.reason}`);
  return caught;
}

function assertNoSecrets(error: Error, ...secrets: string[]) {
  const text = `${error.message} ${JSON.stringify(error)}`;
  for (const secret of secrets) assert.ok(!text.includes(secret), "the error carries a secret");
}

describe("EntraClient: connect", () => {
  it("builds the authorize URL by hand: exact scopes, PKCE S256, login_hint together with select_account", async () => {
    const { url, state, nonce, challenge, verifier } = await authorize(org);
    const parsed = new URL(url);
    assert.equal(`${parsed.origin}${parsed.pathname}`, `${emu.url}/${org.tenantId}/oauth2/v2.0/authorize`);
    const params = Object.fromEntries(parsed.searchParams);
    assert.deepEqual(params, {
      client_id: org.clientId,
      response_type: "code",
      redirect_uri: org.redirectUri,
      response_mode: "query",
      scope: "User.Read Chat.Read Chat.ReadBasic ChatMessage.Read openid offline_access profile",
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: "S256",
      prompt: "select_account",
      login_hint: org.serviceUser.userPrincipalName,
    });
    assert.equal(params.scope, RELAY_SCOPES);
    assert.equal(challenge, createHash("sha256").update(verifier).digest("base64url"));
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);

    const bare = new URL(
      entra.buildAuthorizeUrl(org, {
        redirectUri: org.redirectUri,
        state: "s",
        nonce: "n",
        codeChallenge: challenge,
        prompt: "login",
      }),
    );
    assert.equal(bare.searchParams.get("prompt"), "login");
    assert.equal(bare.searchParams.has("login_hint"), false);
    // Without a hint the emulator shows its account picker instead of redirecting.
    const page = await httpRequest(bare.toString(), { ca: emu.caPem });
    assert.equal(page.status, 200);
  });

  it("redeems the code with PKCE, state and nonce, and reports who connected", async () => {
    const cache = memoryCache();
    const tokens = await connect(org, cache.persistence());
    assert.equal(tokens.userId, org.serviceUser.id);
    assert.equal(tokens.tenantId, org.tenantId);
    assert.equal(tokens.homeAccountId, `${org.serviceUser.id}.${org.tenantId}`);
    assert.equal(tokens.userPrincipalName, org.serviceUser.userPrincipalName);
    assert.equal(tokens.displayName, "Emergency Relay Service");
    assert.equal(tokens.idTokenClaims.aud, org.clientId);
    assert.equal(tokens.idTokenClaims.iss, `https://login.microsoftonline.com/${org.tenantId}/v2.0`);
    // Expiry from the access token's `exp`, i.e. the emulator's (fake) clock: 60-90 minutes from now.
    const lifetime = tokens.accessTokenExpiresAt - clock.now();
    assert.ok(lifetime >= 3600_000 && lifetime <= 5400_000, `lifetime ${lifetime} ms`);
    assert.equal(cache.row.saves, 1);
    refreshTokenIn(cache.row.blob);

    const me = await httpRequest(`${emu.url}/v1.0/me`, {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
      ca: emu.caPem,
    });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json().id, org.serviceUser.id);
  });

  it("a replayed code, a wrong PKCE verifier or a wrong nonce fail as defects and store nothing", async () => {
    const cache = memoryCache();
    const first = await authorize(org);
    const request = {
      code: first.code,
      codeVerifier: first.verifier,
      redirectUri: org.redirectUri,
      nonce: first.nonce,
      state: first.state,
    };
    await entra.redeemCode(org, cache.persistence(), request);
    assert.equal(cache.row.saves, 1);
    const replay = await expectFailure(() => entra.redeemCode(org, cache.persistence(), request), "defect");
    assert.equal(replay.operation, "redeem");
    assert.equal(replay.failure.aadsts, 54005);
    assert.equal(replay.failure.status, 400);
    assert.equal(replay.failure.error, "invalid_grant");
    assert.ok(replay.failure.traceId && replay.failure.correlationId, "Entra's trace ids are kept");
    assertNoSecrets(replay, first.code, first.verifier, org.clientSecret);

    const second = await authorize(org);
    const badVerifier = await expectFailure(
      () =>
        entra.redeemCode(org, cache.persistence(), {
          code: second.code,
          codeVerifier: createPkcePair().verifier,
          redirectUri: org.redirectUri,
          nonce: second.nonce,
          state: second.state,
        }),
      "defect",
    );
    assert.equal(badVerifier.failure.aadsts, 501481);

    // msal checks the ID token's nonce (taken from the request) after Entra answered 200.
    const third = await authorize(org);
    const badNonce = await expectFailure(
      () =>
        entra.redeemCode(org, cache.persistence(), {
          code: third.code,
          codeVerifier: third.verifier,
          redirectUri: org.redirectUri,
          nonce: "not-the-nonce-that-was-sent",
          state: third.state,
        }),
      "defect",
    );
    assert.equal(badNonce.failure.status, 200);
    assert.equal(badNonce.failure.error, "nonce_mismatch");
    assert.equal(cache.row.saves, 1, "no failed redemption touched the cache");
  });

  it("a redemption with an expired client secret is an admin problem", async () => {
    const other = await seedOrg(emu);
    await control(emu, "PATCH", `/_emulator/tenants/${other.tenantId}/apps/${other.clientId}`, {
      secretExpiresAt: new Date(clock.now() - 1000).toISOString(),
    });
    const { code, state, nonce, verifier } = await authorize(other);
    const error = await expectFailure(
      () =>
        entra.redeemCode(other, memoryCache().persistence(), {
          code,
          codeVerifier: verifier,
          redirectUri: other.redirectUri,
          nonce,
          state,
        }),
      "admin",
    );
    assert.equal(error.failure.aadsts, 7000222);
    assert.equal(error.failure.status, 401);
    assertNoSecrets(error, other.clientSecret);
  });
});

describe("EntraClient: refresh", () => {
  it("rotates the refresh token, persists the new cache, and works from a fresh persistence object", async () => {
    const cache = memoryCache();
    const connected = await connect(org, cache.persistence());
    const rt1 = refreshTokenIn(cache.row.blob);

    clock.advance(2 * HOUR);
    const refreshed = await entra.refresh(org, cache.persistence(), connected.homeAccountId);
    assert.notEqual(refreshed.accessToken, connected.accessToken);
    assert.equal(refreshed.userId, org.serviceUser.id);
    assert.equal(refreshed.homeAccountId, connected.homeAccountId);
    const lifetime = refreshed.accessTokenExpiresAt - clock.now();
    assert.ok(lifetime >= 3600_000 && lifetime <= 5400_000, `lifetime ${lifetime} ms`);
    assert.equal(cache.row.saves, 2);
    const rt2 = refreshTokenIn(cache.row.blob);
    assert.notEqual(rt2, rt1, "the refresh token rotated and the new one was saved");

    // Another "instance": nothing shared but the saved blob.
    const blob = cache.row.blob;
    const elsewhere = memoryCache();
    elsewhere.row.blob = blob;
    clock.advance(HOUR);
    const again = await entra.refresh(org, elsewhere.persistence(), connected.homeAccountId);
    assert.notEqual(again.accessToken, refreshed.accessToken);
    assert.notEqual(refreshTokenIn(elsewhere.row.blob), rt2);

    // A refresh always goes to Entra (msal would otherwise trust its system-clock view of the cache).
    const count = (await control(emu, "GET", "/_emulator/state")).refreshTokens.length;
    await entra.refresh(org, elsewhere.persistence(), connected.homeAccountId);
    assert.equal((await control(emu, "GET", "/_emulator/state")).refreshTokens.length, count + 1);
  });

  it("stores the cache encrypted through TokenCacheStore and refreshes from a fresh persistence", async (t) => {
    const database = await openTestDatabase("sqlite");
    t.after(() => database.close());
    await database.db
      .insertInto("orgs")
      .values({ id: "org-1", name: "Contoso", created_at: 0, updated_at: 0 })
      .execute();
    const box = testSecretBox();
    const store = new TokenCacheStore(database.db, box, clock);
    const connected = await connect(org, store.persistenceFor("org-1"));
    clock.advance(HOUR);
    await entra.refresh(org, store.persistenceFor("org-1"), connected.homeAccountId);
    assert.equal(await store.version("org-1"), 2);

    const row = await database.db
      .selectFrom("ms_token_caches")
      .select("cache_ciphertext")
      .where("org_id", "=", "org-1")
      .executeTakeFirstOrThrow();
    const refreshToken = refreshTokenIn(await store.persistenceFor("org-1").load());
    assert.ok(refreshToken.length > 20);
    assert.ok(!row.cache_ciphertext.includes(refreshToken), "the refresh token is not stored in clear");
    assert.ok(!row.cache_ciphertext.includes(org.serviceUser.id), "nothing of the cache is stored in clear");
  });

  it("an unknown account or an empty cache needs reauth", async () => {
    const cache = memoryCache();
    const connected = await connect(org, cache.persistence());
    const unknown = await expectFailure(
      () => entra.refresh(org, cache.persistence(), `00000000-0000-0000-0000-000000000000.${org.tenantId}`),
      "reauth",
    );
    assert.equal(unknown.failure.error, "no_account");
    assert.equal(unknown.operation, "refresh");
    await expectFailure(
      () => entra.refresh(org, memoryCache().persistence(), connected.homeAccountId),
      "reauth",
    );
  });

  it("a storage failure is passed on as it is, not as an Entra failure", async () => {
    const broken: TokenCachePersistence = {
      load: async () => {
        throw new RelayError("ERR_STORAGE_UNAVAILABLE", "database down");
      },
      save: async () => {},
    };
    await assert.rejects(
      entra.refresh(org, broken, `${org.serviceUser.id}.${org.tenantId}`),
      (error: unknown) => error instanceof RelayError && error.code === "ERR_STORAGE_UNAVAILABLE",
    );
  });

  describe("injected token endpoint faults", () => {
    let cache: ReturnType<typeof memoryCache>;
    let homeAccountId: string;

    before(async () => {
      cache = memoryCache();
      homeAccountId = (await connect(org, cache.persistence())).homeAccountId;
    });

    async function refreshWithFault(fault: object, bucket: FailureBucket, client = entra) {
      await control(emu, "POST", "/_emulator/faults", { target: "token", ...fault });
      const savesBefore = cache.row.saves;
      const blobBefore = cache.row.blob;
      const error = await expectFailure(
        () => client.refresh(org, cache.persistence(), homeAccountId),
        bucket,
      );
      assert.equal(cache.row.saves, savesBefore, "a failed refresh saves nothing");
      assert.equal(cache.row.blob, blobBefore);
      assertNoSecrets(error, refreshTokenIn(cache.row.blob), org.clientSecret);
      // The fault is used up: the same cache refreshes fine afterwards.
      clock.advance(60_000);
      await client.refresh(org, cache.persistence(), homeAccountId);
      return error;
    }

    const aadstsCases: [number, FailureBucket, string, string?][] = [
      [700082, "reauth", "invalid_grant"],
      [50173, "reauth", "invalid_grant"],
      [70043, "reauth", "invalid_grant"],
      [50076, "reauth", "interaction_required", "basic_action"],
      [65001, "reauth", "invalid_grant", "consent_required"],
      [7000215, "admin", "invalid_client"],
      [7000222, "admin", "invalid_client"],
    ];
    for (const [aadsts, bucket, oauthError, subError] of aadstsCases) {
      it(`AADSTS${aadsts} -> ${bucket}`, async () => {
        const error = await refreshWithFault({ kind: "aadsts", aadsts }, bucket);
        assert.equal(error.failure.aadsts, aadsts);
        assert.equal(error.failure.error, oauthError);
        assert.equal(error.failure.subError, subError);
        assert.equal(error.failure.status, oauthError === "invalid_client" ? 401 : 400);
        assert.equal(error.failure.transport, undefined);
        assert.ok(error.failure.traceId);
      });
    }

    it("HTTP 429 with Retry-After -> retry, carrying the delay", async () => {
      const error = await refreshWithFault({ kind: "http", status: 429, retryAfter: 30 }, "retry");
      assert.equal(error.failure.status, 429);
      assert.equal(error.failure.retryAfterMs, 30_000);
      assert.equal(error.failure.aadsts, 90055);
    });

    it("HTTP 503 -> retry", async () => {
      const error = await refreshWithFault({ kind: "http", status: 503 }, "retry");
      assert.equal(error.failure.status, 503);
      assert.equal(error.failure.retryAfterMs, undefined);
      assert.equal(error.failure.error, "temporarily_unavailable");
    });

    it("a hanging token endpoint -> retry after the timeout", async () => {
      const impatient = createEntraClient({ loginBaseUrl: emu.url, extraCaPem: emu.caPem!, timeoutMs: 300 });
      const started = Date.now();
      const error = await refreshWithFault({ kind: "hang" }, "retry", impatient);
      assert.equal(error.failure.transport, "timeout");
      assert.equal(error.failure.status, undefined);
      assert.ok(Date.now() - started < 5_000);
    });

    it("a real revocation (sessions revoked) -> reauth with AADSTS50173", async () => {
      await control(
        emu,
        "POST",
        `/_emulator/tenants/${org.tenantId}/users/${org.serviceUser.id}/revoke-sessions`,
        {},
      );
      clock.advance(1000);
      const error = await expectFailure(
        () => entra.refresh(org, cache.persistence(), homeAccountId),
        "reauth",
      );
      assert.equal(error.failure.aadsts, 50173);
    });
  });

  it("a refresh token unused for 90 days -> reauth with AADSTS700082 (real expiry, fake clock)", async () => {
    const other = await seedOrg(emu);
    const cache = memoryCache();
    const connected = await connect(other, cache.persistence());
    clock.advance(91 * DAY);
    const error = await expectFailure(
      () => entra.refresh(other, cache.persistence(), connected.homeAccountId),
      "reauth",
    );
    assert.equal(error.failure.aadsts, 700082);
    assert.match(classifyTokenFailure(error.failure).reason, /90 days/);
  });
});

/** A minimal AES-256-GCM box for tests. */
function testSecretBox(): SecretBox {
  const key = randomBytes(32);
  return {
    seal(plaintext, aad) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(aad));
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return [iv, cipher.getAuthTag(), body].map((b) => b.toString("base64url")).join(".");
    },
    open(envelope, aad) {
      const [iv, tag, body] = envelope.split(".").map((p) => Buffer.from(p, "base64url"));
      const decipher = createDecipheriv("aes-256-gcm", key, iv!).setAAD(Buffer.from(aad)).setAuthTag(tag!);
      return Buffer.concat([decipher.update(body!), decipher.final()]).toString("utf8");
    },
  };
}
