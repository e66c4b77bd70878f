import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  ConfidentialClientApplication,
  CryptoProvider,
  type ICachePlugin,
  type TokenCacheContext,
} from "@azure/msal-node";
import { decodeJwt } from "jose";
import type { Emulator } from "../../emulator/index.ts";
import { EntraNetworkClient } from "../../src/microsoft/entra-network-client.ts";
import { seedOrg, startEmulator, type Org } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest } from "../helpers/http-request.ts";

const SCOPES = ["User.Read", "Chat.Read", "Chat.ReadBasic", "ChatMessage.Read"];

let emu: Emulator;
let org: Org;
const clock = new FakeClock();

before(async () => {
  emu = await startEmulator({ clock });
  org = await seedOrg(emu);
});
after(() => emu.close());

/** A cache row in memory standing in for the relay's per-org encrypted row: each "instance" reads it fresh. */
function sharedCache(): { plugin: ICachePlugin; blob: () => string } {
  let blob = "";
  return {
    blob: () => blob,
    plugin: {
      async beforeCacheAccess(context: TokenCacheContext) {
        if (blob) context.tokenCache.deserialize(blob);
      },
      async afterCacheAccess(context: TokenCacheContext) {
        if (context.cacheHasChanged) blob = context.tokenCache.serialize();
      },
    },
  };
}

function msalClient(cachePlugin: ICachePlugin, network: EntraNetworkClient) {
  return new ConfidentialClientApplication({
    auth: {
      clientId: org.clientId,
      clientSecret: org.clientSecret,
      authority: `https://login.microsoftonline.com/${org.tenantId}`,
    },
    cache: { cachePlugin },
    system: { networkClient: network },
  });
}

test("msal-node completes a code flow with PKCE, state and nonce, then refreshes silently from a fresh instance", async () => {
  const network = new EntraNetworkClient({ loginBaseUrl: emu.url, extraCaPem: emu.caPem! });
  const cache = sharedCache();
  const crypto = new CryptoProvider();
  const pkce = await crypto.generatePkceCodes();
  const state = crypto.createNewGuid();
  const nonce = crypto.createNewGuid();

  const first = msalClient(cache.plugin, network);
  const authUrl = await first.getAuthCodeUrl({
    scopes: SCOPES,
    redirectUri: org.redirectUri,
    state,
    nonce,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: "S256",
    // msal-node 7 drops login_hint when prompt is select_account, so this flow sends no prompt.
    loginHint: org.serviceUser.userPrincipalName,
  });
  assert.match(authUrl, /login_hint=/);
  // msal builds the real authority URL; the browser would go there. Send it to the emulator instead.
  const browser = await httpRequest(network.rewriteUrl(authUrl).toString(), { ca: emu.caPem });
  assert.equal(browser.status, 302, browser.text);
  const callback = new URL(String(browser.headers.location));
  assert.equal(`${callback.origin}${callback.pathname}`, org.redirectUri);
  assert.equal(callback.searchParams.get("state"), state);

  const result = await first.acquireTokenByCode(
    {
      code: callback.searchParams.get("code")!,
      scopes: SCOPES,
      redirectUri: org.redirectUri,
      codeVerifier: pkce.verifier,
      state,
      nonce,
    },
    // msal-node 7 takes code and nonce from the request and only state from the payload; both must carry them.
    { code: callback.searchParams.get("code")!, state, nonce },
  );
  assert.equal(result.uniqueId, org.serviceUser.id);
  assert.equal(result.tenantId, org.tenantId);
  assert.equal(result.account?.homeAccountId, `${org.serviceUser.id}.${org.tenantId}`);
  assert.equal(result.idTokenClaims && (result.idTokenClaims as { nonce?: string }).nonce, nonce);
  // msal computes expiresOn from the system clock, not from the test's clock.
  const lifetimeSeconds = (result.expiresOn!.getTime() - Date.now()) / 1000;
  assert.ok(lifetimeSeconds >= 3590 && lifetimeSeconds <= 5410, `access token lifetime ${lifetimeSeconds}s`);
  const firstRefresh = refreshTokenIn(cache.blob());

  // A second "instance": a new client that only shares the cache row.
  clock.advance(2 * 3600_000);
  const second = msalClient(cache.plugin, network);
  const account = await second.getTokenCache().getAccountByHomeId(`${org.serviceUser.id}.${org.tenantId}`);
  assert.ok(account, "account found by homeAccountId built from client_info");
  const refreshed = await second.acquireTokenSilent({ account, scopes: SCOPES, forceRefresh: true });
  assert.notEqual(refreshed.accessToken, result.accessToken);
  assert.equal(network.lastResponse?.status, 200);
  const rotated = refreshTokenIn(cache.blob());
  assert.notEqual(rotated, firstRefresh, "refresh token rotates on every use");

  // Graph accepts the refreshed token; the access token's claims are the delegated ones.
  const claims = decodeJwt(refreshed.accessToken);
  assert.equal(claims.oid, org.serviceUser.id);
  assert.match(String(claims.scp), /Chat\.Read/);
  const me = await httpRequest(`${emu.url}/v1.0/me`, {
    headers: { authorization: `Bearer ${refreshed.accessToken}` },
    ca: emu.caPem,
  });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json().id, org.serviceUser.id);

  // The old refresh token stays valid at Microsoft (refresh-tokens doc), the rotated one works too.
  const stateView = (await httpRequest(`${emu.url}/_emulator/state`, { ca: emu.caPem })).json();
  const records = stateView.refreshTokens.filter((r: { userId: string }) => r.userId === org.serviceUser.id);
  assert.ok(records.length >= 2);
});

test("msal-node surfaces a revoked grant as invalid_grant with AADSTS50173, and the network client keeps the status", async () => {
  const network = new EntraNetworkClient({ loginBaseUrl: emu.url, extraCaPem: emu.caPem! });
  const cache = sharedCache();
  const crypto = new CryptoProvider();
  const pkce = await crypto.generatePkceCodes();
  const client = msalClient(cache.plugin, network);
  const authUrl = await client.getAuthCodeUrl({
    scopes: SCOPES,
    redirectUri: org.redirectUri,
    codeChallenge: pkce.challenge,
    codeChallengeMethod: "S256",
    loginHint: org.serviceUser.userPrincipalName,
  });
  const browser = await httpRequest(network.rewriteUrl(authUrl).toString(), { ca: emu.caPem });
  const code = new URL(String(browser.headers.location)).searchParams.get("code")!;
  const result = await client.acquireTokenByCode({
    code,
    scopes: SCOPES,
    redirectUri: org.redirectUri,
    codeVerifier: pkce.verifier,
  });

  const revoke = await httpRequest(
    `${emu.url}/_emulator/tenants/${org.tenantId}/users/${org.serviceUser.id}/revoke-sessions`,
    {
      method: "POST",
      body: {},
      ca: emu.caPem,
    },
  );
  assert.equal(revoke.status, 200);
  clock.advance(1000);
  await assert.rejects(
    msalClient(cache.plugin, network).acquireTokenSilent({
      account: result.account!,
      scopes: SCOPES,
      forceRefresh: true,
    }),
    (error: { errorCode?: string; errorNo?: string | number }) =>
      error.errorCode === "invalid_grant" && String(error.errorNo) === "50173",
  );
  assert.equal(network.lastResponse?.status, 400);
  assert.deepEqual(network.lastResponse?.errorCodes, [50173]);
});

function refreshTokenIn(blob: string): string {
  const parsed = JSON.parse(blob) as { RefreshToken: Record<string, { secret: string }> };
  const [entry] = Object.values(parsed.RefreshToken);
  assert.ok(entry, "cache holds a refresh token");
  return entry.secret;
}
