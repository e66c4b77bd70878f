import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest } from "../helpers/http-request.ts";
import {
  connectOrg,
  createOrgWithApp,
  followSignIn,
  runJobsUntil,
  seedTenant,
  startConnect,
  startTestRelay,
  type TestRelay,
} from "../helpers/relay-setup.ts";

const MINUTE = 60_000;
const clock = new FakeClock();
let emu: Emulator;
let relay: TestRelay;

before(async () => {
  emu = await startEmulator({ clock });
  relay = await startTestRelay(emu, clock);
});
after(async () => {
  await relay.close();
  await emu.close();
});
// Deleting each test's orgs (their jobs cascade) keeps later tests from running every earlier org's hourly refresh.
afterEach(async () => {
  const { orgs } = (await relay.api("GET", "/api/orgs")).json();
  for (const org of orgs) assert.equal((await relay.api("DELETE", `/api/orgs/${org.id}`)).status, 204);
});

async function status(orgId: string) {
  const res = await relay.api("GET", `/api/org/${orgId}/ms-teams/status`);
  assert.equal(res.status, 200, res.text);
  return res.json();
}

async function events(
  orgId: string,
): Promise<{ kind: string; severity: string; message: string; details: any }[]> {
  const res = await relay.api("GET", `/api/org/${orgId}/events`);
  assert.equal(res.status, 200, res.text);
  // The API lists newest first; these tests read them in the order they happened.
  return [...res.json().events].reverse();
}

async function refreshJobAt(orgId: string): Promise<number> {
  const job = (await relay.relay.listJobs()).find((j) => j.dedupeKey === `token.refresh:${orgId}`);
  assert.ok(job, "a refresh is scheduled");
  return job.runAt;
}

async function connectedOrg() {
  const tenant = await seedTenant(emu);
  const org = await createOrgWithApp(emu, relay, tenant);
  const page = await connectOrg(emu, relay, org.orgId);
  assert.equal(page.status, 200, page.text);
  return { tenant, ...org };
}

describe("connect", () => {
  test("the admin creates the org, registers the app, enters its values and connects the service user", async () => {
    const tenant = await seedTenant(emu);
    const org = await createOrgWithApp(emu, relay, tenant);
    assert.equal((await status(org.orgId)).connection.state, "disconnected");

    const authorize = await startConnect(relay, org.orgId);
    assert.equal(
      `${authorize.origin}${authorize.pathname}`,
      `${emu.url}/${tenant.tenantId}/oauth2/v2.0/authorize`,
    );
    const q = authorize.searchParams;
    assert.equal(
      q.get("scope"),
      "User.Read Chat.Read Chat.ReadBasic ChatMessage.Read openid offline_access profile",
    );
    assert.equal(q.get("code_challenge_method"), "S256");
    assert.equal(q.get("prompt"), "select_account");
    assert.equal(q.get("login_hint"), tenant.serviceUser.userPrincipalName);
    assert.equal(q.get("redirect_uri"), org.redirectUri);
    assert.ok(q.get("state") && q.get("nonce") && q.get("code_challenge"));

    const { page } = await followSignIn(emu, authorize);
    assert.equal(page.status, 200, page.text);
    assert.match(page.text, /data-result="connected"/);
    assert.match(page.text, new RegExp(tenant.serviceUser.userPrincipalName));

    const s = await status(org.orgId);
    assert.equal(s.connection.state, "connected");
    assert.deepEqual(s.connection.user, {
      id: tenant.serviceUser.id,
      userPrincipalName: tenant.serviceUser.userPrincipalName,
      displayName: "Emergency Relay Service",
    });
    assert.ok(Date.parse(s.connection.accessTokenExpiresAt) >= clock.now() + 59 * MINUTE);
    assert.equal(s.clientSecret.daysLeft, 180, "the emulator's default secret lives 180 days");
    assert.deepEqual(
      (await events(org.orgId)).map((e) => e.kind),
      ["connected"],
    );
  });

  test("connecting an incomplete org says what is missing", async () => {
    const created = await relay.api("POST", "/api/orgs", { name: "Half done" });
    const res = await relay.api("GET", `/api/org/${created.json().id}/ms-teams/connect`);
    assert.equal(res.status, 409);
    assert.match(res.json().error.message, /tenantId.*clientId.*clientSecret|clientSecret/);
  });

  test("connect and status need the admin token; the callback does not but is bound to its state", async () => {
    const { orgId } = await connectedOrg();
    assert.equal((await relay.api("GET", `/api/org/${orgId}/ms-teams/connect`, undefined, null)).status, 401);
    assert.equal(
      (
        await relay.api(
          "GET",
          `/api/org/${orgId}/ms-teams/status`,
          undefined,
          "wrong-token-wrong-token-wrong-token",
        )
      ).status,
      401,
    );
  });

  test("a forged state changes nothing and says why", async () => {
    const { orgId } = await connectedOrg();
    const before = await status(orgId);
    const res = await httpRequest(
      `${relay.url}/api/org/${orgId}/ms-teams/callback?code=anything&state=forged-state`,
    );
    assert.equal(res.status, 400);
    assert.match(res.text, /unknown or was already used/);
    assert.deepEqual(await status(orgId), before);
  });

  test("a replayed callback is refused", async () => {
    const tenant = await seedTenant(emu);
    const org = await createOrgWithApp(emu, relay, tenant);
    const { callbackUrl, page } = await followSignIn(emu, await startConnect(relay, org.orgId));
    assert.equal(page.status, 200);
    const replay = await httpRequest(callbackUrl);
    assert.equal(replay.status, 400);
    assert.match(replay.text, /already used/);
  });

  test("a state older than 15 minutes is refused and nothing is stored", async () => {
    const tenant = await seedTenant(emu);
    const org = await createOrgWithApp(emu, relay, tenant);
    const authorize = await startConnect(relay, org.orgId);
    clock.advance(16 * MINUTE);
    const { page } = await followSignIn(emu, authorize);
    assert.equal(page.status, 400);
    assert.match(page.text, /longer than 15 minutes/);
    assert.equal((await status(org.orgId)).connection.state, "disconnected");
  });

  test("an error returned by Microsoft is shown and changes nothing", async () => {
    const tenant = await seedTenant(emu);
    const org = await createOrgWithApp(emu, relay, tenant);
    const authorize = await startConnect(relay, org.orgId);
    const res = await httpRequest(
      `${relay.url}/api/org/${org.orgId}/ms-teams/callback?error=access_denied&error_description=AADSTS65004%3A+User+declined&state=${authorize.searchParams.get("state")}`,
    );
    assert.equal(res.status, 400);
    assert.match(res.text, /access_denied/);
    assert.equal((await status(org.orgId)).connection.state, "disconnected");
  });

  test("an account from another tenant is refused", async () => {
    const home = await seedTenant(emu, "Contoso");
    const org = await createOrgWithApp(emu, relay, home, { signInAudience: "AzureADMultipleOrgs" });
    const other = await seedTenant(emu, "Fabrikam");
    const authorize = await startConnect(relay, org.orgId);
    // Someone signs in through the other tenant with the same request (a multi-tenant app allows it).
    authorize.pathname = authorize.pathname.replace(home.tenantId, other.tenantId);
    authorize.searchParams.set("login_hint", other.serviceUser.userPrincipalName);
    const { page } = await followSignIn(emu, authorize);
    assert.equal(page.status, 400);
    assert.match(page.text, new RegExp(`belongs to tenant ${other.tenantId}`));
    assert.equal((await status(org.orgId)).connection.state, "disconnected");
  });

  test("a personal Microsoft account is refused", async () => {
    const home = await seedTenant(emu, "Contoso");
    const org = await createOrgWithApp(emu, relay, home, { signInAudience: "AzureADMultipleOrgs" });
    const consumers = "9188040d-6c67-4c5b-b112-36a304b66dad";
    if (!emu.state.tenants.has(consumers))
      await control(emu, "POST", "/_emulator/tenants", { displayName: "Microsoft accounts", id: consumers });
    const person = await control(emu, "POST", `/_emulator/tenants/${consumers}/users`, {
      displayName: "Home User",
      userPrincipalName: `someone${Date.now()}@outlook.com`,
    });
    const authorize = await startConnect(relay, org.orgId);
    authorize.pathname = authorize.pathname.replace(home.tenantId, consumers);
    authorize.searchParams.set("login_hint", person.userPrincipalName);
    const { page } = await followSignIn(emu, authorize);
    assert.equal(page.status, 400);
    assert.match(page.text, /personal Microsoft account/);
  });

  test("reconnecting as a different user is refused unless the admin asked to replace the service user", async () => {
    const { orgId, tenant } = await connectedOrg();
    const refused = await connectOrg(
      emu,
      relay,
      orgId,
      `?login_hint=${encodeURIComponent(tenant.otherUser.userPrincipalName)}`,
    );
    assert.equal(refused.status, 400);
    assert.match(refused.text, /service user is/);
    assert.equal((await status(orgId)).connection.user.id, tenant.serviceUser.id);

    const replaced = await connectOrg(
      emu,
      relay,
      orgId,
      `?login_hint=${encodeURIComponent(tenant.otherUser.userPrincipalName)}&replace_user=true`,
    );
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal((await status(orgId)).connection.user.id, tenant.otherUser.id);
    assert.match((await events(orgId)).at(-1)!.message, /Service user replaced/);
  });
});

describe("keeping tokens alive", () => {
  const failureCases: { name: string; fault: object; state: string; bucket: string; aadsts?: number }[] = [
    {
      name: "AADSTS700082 (90 days inactive)",
      fault: { kind: "aadsts", aadsts: 700082 },
      state: "needs_reauth",
      bucket: "reauth",
      aadsts: 700082,
    },
    {
      name: "AADSTS50173 (grant revoked)",
      fault: { kind: "aadsts", aadsts: 50173 },
      state: "needs_reauth",
      bucket: "reauth",
      aadsts: 50173,
    },
    {
      name: "AADSTS70043 (sign-in frequency)",
      fault: { kind: "aadsts", aadsts: 70043 },
      state: "needs_reauth",
      bucket: "reauth",
      aadsts: 70043,
    },
    {
      name: "AADSTS50076 (MFA required)",
      fault: { kind: "aadsts", aadsts: 50076 },
      state: "needs_reauth",
      bucket: "reauth",
      aadsts: 50076,
    },
    {
      name: "AADSTS65001 (consent missing)",
      fault: { kind: "aadsts", aadsts: 65001 },
      state: "needs_reauth",
      bucket: "reauth",
      aadsts: 65001,
    },
    {
      name: "AADSTS7000215 (wrong secret)",
      fault: { kind: "aadsts", aadsts: 7000215 },
      state: "misconfigured",
      bucket: "admin",
      aadsts: 7000215,
    },
    {
      name: "AADSTS7000222 (secret expired)",
      fault: { kind: "aadsts", aadsts: 7000222 },
      state: "misconfigured",
      bucket: "admin",
      aadsts: 7000222,
    },
  ];
  for (const c of failureCases) {
    test(`${c.name} ends in ${c.state}, records the event and stops retrying`, async () => {
      const { orgId, clientId } = await connectedOrg();
      const tokensOfThisApp = () => emu.state.accessTokens.filter((t) => t.clientId === clientId).length;
      await control(emu, "POST", "/_emulator/faults", { target: "token", ...c.fault });
      const res = await relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`);
      assert.equal(res.status, 200, res.text);
      const s = res.json();
      assert.equal(s.connection.state, c.state);
      assert.equal(s.connection.lastError.bucket, c.bucket);
      assert.equal(s.connection.lastError.aadsts, c.aadsts);
      const last = (await events(orgId)).at(-1)!;
      assert.equal(last.kind, c.bucket === "reauth" ? "reauth_required" : "refresh_failed");
      assert.equal(last.severity, "critical");
      // No retry: moving a day ahead and running every due job leaves it where it is.
      const tokenCallsBefore = tokensOfThisApp();
      await runJobsUntil(relay, clock, clock.now() + 26 * 60 * MINUTE);
      assert.equal((await status(orgId)).connection.state, c.state);
      assert.equal(tokensOfThisApp(), tokenCallsBefore, "no token was issued while it waited for a human");
      // "Test connection now" after the human fixed it recovers.
      const recovered = await relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`);
      assert.equal(recovered.json().connection.state, "connected");
      assert.equal((await events(orgId)).at(-1)!.kind, "refresh_recovered");
    });
  }

  test("429 with Retry-After: retrying, and the next attempt waits at least that long", async () => {
    const { orgId } = await connectedOrg();
    await control(emu, "POST", "/_emulator/faults", {
      target: "token",
      kind: "http",
      status: 429,
      retryAfter: 120,
    });
    const s = (await relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`)).json();
    assert.equal(s.connection.state, "retrying");
    assert.equal(s.connection.lastError.bucket, "retry");
    const next = await refreshJobAt(orgId);
    assert.ok(next >= clock.now() + 120_000, `next attempt in ${(next - clock.now()) / 1000} s`);
    clock.set(next);
    await relay.relay.scheduler.runDue();
    assert.equal((await status(orgId)).connection.state, "connected");
  });

  test("5xx: retrying with the first retry at least 5 s later, then recovery", async () => {
    const { orgId } = await connectedOrg();
    await control(emu, "POST", "/_emulator/faults", { target: "token", kind: "http", status: 503, times: 2 });
    const s = (await relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`)).json();
    assert.equal(s.connection.state, "retrying");
    const first = (await refreshJobAt(orgId)) - clock.now();
    assert.ok(first >= 5000, `first retry after ${first} ms`);
    clock.advance(first);
    await relay.relay.scheduler.runDue();
    const second = (await refreshJobAt(orgId)) - clock.now();
    assert.ok(second > first, `backoff grows: ${first} -> ${second}`);
    assert.equal((await status(orgId)).connection.consecutiveFailures, 2);
    clock.advance(second);
    await relay.relay.scheduler.runDue();
    assert.equal((await status(orgId)).connection.state, "connected");
  });

  test("a hanging token endpoint times out and is retried", async () => {
    const { orgId } = await connectedOrg();
    await control(emu, "POST", "/_emulator/faults", { target: "token", kind: "hang" });
    const s = (await relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`)).json();
    assert.equal(s.connection.state, "retrying");
    assert.equal(s.connection.lastError.bucket, "retry");
  });

  test("each refresh uses the refresh token the previous one stored, and concurrent refreshes are serialized", async () => {
    const { orgId, clientId } = await connectedOrg();
    const used = () =>
      [...emu.state.refreshTokens.values()]
        .filter((r) => r.clientId === clientId)
        .sort((a, b) => a.issuedAt - b.issuedAt || 0);
    await Promise.all([
      relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`),
      relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`),
      relay.api("POST", `/api/org/${orgId}/ms-teams/refresh`),
    ]);
    const tokens = used();
    // Connect issued one, each refresh rotated it: 1 + 3, and every token but the newest was used exactly by the next refresh.
    assert.equal(tokens.length, 4);
    assert.equal(
      tokens.filter((t) => t.usedAt !== null).length,
      3,
      "no refresh token was used twice or skipped",
    );
    assert.equal(tokens.at(-1)!.usedAt, null);
  });
});

describe("secret expiry", () => {
  test("warnings at 30, 14, 7 and 1 days, then expired, each once", async () => {
    const tenant = await seedTenant(emu);
    const expiresAt = clock.now() + 40 * 24 * 60 * MINUTE;
    const org = await createOrgWithApp(emu, relay, tenant, {
      secretExpiresAt: new Date(expiresAt).toISOString(),
    });
    await runJobsUntil(relay, clock, expiresAt + 3 * 24 * 60 * MINUTE);
    const secretEvents = (await events(org.orgId)).filter((e) => e.kind.startsWith("secret_"));
    assert.deepEqual(
      secretEvents.map((e) => [e.kind, e.details.daysLeft ?? 0]),
      [
        ["secret_expiring", 30],
        ["secret_expiring", 14],
        ["secret_expiring", 7],
        ["secret_expiring", 1],
        ["secret_expired", 0],
      ],
    );
    assert.equal((await status(org.orgId)).clientSecret.daysLeft < 0, true);
  });
});

describe("housekeeping", () => {
  test("abandoned sign-ins are purged by the daily sweep", async () => {
    const tenant = await seedTenant(emu);
    const org = await createOrgWithApp(emu, relay, tenant);
    const abandoned = await startConnect(relay, org.orgId);
    await runJobsUntil(relay, clock, clock.now() + 25 * 60 * MINUTE);
    // Had the row survived, this would say "longer than 15 minutes"; purged, it is simply unknown.
    const { page } = await followSignIn(emu, abandoned);
    assert.equal(page.status, 400);
    assert.match(page.text, /unknown or was already used/);
  });
});
