import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import {
  connectOrg,
  createOrgWithApp,
  runJobsUntil,
  seedTenant,
  startTestRelay,
  type TestRelay,
} from "../helpers/relay-setup.ts";

const DAY = 86_400_000;
const clock = new FakeClock();
let emu: Emulator;
let relay: TestRelay;

before(async () => {
  // The relay listens on plain http on loopback; its Graph subscriptions need the emulator to allow that.
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  // Polling every 6 h instead of 5 min: this test is about tokens, and 120 days of 5-minute polls take minutes.
  relay = await startTestRelay(emu, clock, { RELAY_LOG_LEVEL: "warn", RELAY_POLL_INTERVAL_SECONDS: "21600" });
});
after(async () => {
  await relay.close();
  await emu.close();
});

test("120 simulated days keep the connection alive; a revocation on day 60 is reported within one refresh cycle", async () => {
  const steady = await seedTenant(emu, "Steady");
  const revoked = await seedTenant(emu, "Revoked");
  const steadyOrg = await createOrgWithApp(emu, relay, steady, {
    secretExpiresAt: new Date(clock.now() + 400 * DAY).toISOString(),
  });
  const revokedOrg = await createOrgWithApp(emu, relay, revoked, {
    secretExpiresAt: new Date(clock.now() + 400 * DAY).toISOString(),
  });
  assert.equal((await connectOrg(emu, relay, steadyOrg.orgId)).status, 200);
  assert.equal((await connectOrg(emu, relay, revokedOrg.orgId)).status, 200);

  const start = clock.now();
  let revokedAt: number | undefined;
  let steadyStates = new Set<string>();
  let checks = 0;
  await runJobsUntil(relay, clock, start + 120 * DAY, async (now) => {
    if (revokedAt === undefined && now >= start + 60 * DAY) {
      await control(
        emu,
        "POST",
        `/_emulator/tenants/${revoked.tenantId}/users/${revoked.serviceUser.id}/revoke-sessions`,
      );
      revokedAt = clock.now();
    }
    // Sample the steady org's state every so often: it must never leave `connected`.
    if (++checks % 200 === 0) {
      const s = (await relay.api("GET", `/api/org/${steadyOrg.orgId}/ms-teams/status`)).json();
      steadyStates.add(s.connection.state);
    }
  });

  const steadyStatus = (await relay.api("GET", `/api/org/${steadyOrg.orgId}/ms-teams/status`)).json();
  steadyStates.add(steadyStatus.connection.state);
  assert.deepEqual([...steadyStates], ["connected"]);
  const steadyTokens = emu.state.accessTokens.filter((t) => t.clientId === steadyOrg.clientId);
  // ~2,650 scheduled refreshes (10 min before each 60-90 min token ends), plus early ones when answering a
  // subscription's reauthorizationRequired needs a fresher token. Far from a refresh loop either way.
  assert.ok(
    steadyTokens.length >= 2400 && steadyTokens.length <= 4000,
    `${steadyTokens.length} access tokens over 120 days`,
  );
  // There was never a moment without a valid access token.
  for (let i = 1; i < steadyTokens.length; i++) {
    assert.ok(steadyTokens[i]!.issuedAt < steadyTokens[i - 1]!.expiresAt, `gap after token ${i - 1}`);
  }
  assert.ok(Date.parse(steadyStatus.connection.lastRefreshAt) > start + 120 * DAY - 2 * 3_600_000);
  const steadyEvents = (await relay.api("GET", `/api/org/${steadyOrg.orgId}/events`)).json().events;
  // Newest first: nothing went wrong after the connect and the subscription it brought.
  assert.deepEqual(
    steadyEvents.map((e: { kind: string }) => e.kind),
    ["subscription_created", "connected"],
  );

  const revokedStatus = (await relay.api("GET", `/api/org/${revokedOrg.orgId}/ms-teams/status`)).json();
  assert.equal(revokedStatus.connection.state, "needs_reauth");
  assert.equal(revokedStatus.connection.lastError.aadsts, 50173);
  const [reauth] = (await relay.api("GET", `/api/org/${revokedOrg.orgId}/events`)).json().events;
  assert.equal(reauth.kind, "reauth_required");
  const reportedAfter = Date.parse(reauth.createdAt) - revokedAt!;
  assert.ok(
    reportedAfter >= 0 && reportedAfter <= 90 * 60_000,
    `reported ${reportedAfter / 60_000} min after the revocation`,
  );
  // And it stopped asking Entra: no token was issued to the revoked org after the revocation.
  assert.equal(
    emu.state.accessTokens.filter((t) => t.clientId === revokedOrg.clientId && t.issuedAt > revokedAt!)
      .length,
    0,
  );
});
