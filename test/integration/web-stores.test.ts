import assert from "node:assert/strict";
import { it, type TestContext } from "node:test";
import { RelayError } from "../../src/core/errors.ts";
import { AccountStore } from "../../src/storage/account-store.ts";
import { AuditLogStore } from "../../src/storage/audit-log-store.ts";
import { LoginThrottleStore } from "../../src/storage/login-throttle-store.ts";
import type { Engine } from "../../src/storage/schema.ts";
import { SessionStore } from "../../src/storage/session-store.ts";
import { ensureFirstAdmin } from "../../src/web/ensure-first-admin.ts";
import { createPasswordHasher } from "../../src/web/password-hasher.ts";
import { createWebSessions, hashSessionId } from "../../src/web/web-sessions.ts";
import { csrfTokenFor } from "../../src/web/csrf.ts";
import { forEachEngine, openTestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

// Cheap scrypt for store tests; the production cost is exercised by the web-app tests.
const hasher = createPasswordHasher({ N: 2 ** 10, r: 8, p: 1 });
const PASSWORD = "correct horse battery staple";

async function setup(t: TestContext, engine: Engine) {
  const database = await openTestDatabase(engine);
  t.after(() => database.close());
  const clock = new FakeClock();
  return {
    database,
    clock,
    accounts: new AccountStore(database.db, clock),
    sessions: new SessionStore(database.db),
    throttle: new LoginThrottleStore(database.db),
    audit: new AuditLogStore(database.db, clock),
  };
}

forEachEngine("web stores", (engine) => {
  it("creates the first admin once, with a generated password that verifies and is stored only hashed", async (t) => {
    const { accounts, database } = await setup(t, engine);
    const first = await ensureFirstAdmin({ accounts, hasher });
    assert.equal(first?.username, "admin");
    assert.ok(first?.password && first.password.length >= 20);
    assert.equal(await ensureFirstAdmin({ accounts, hasher }), undefined, "a second start creates nothing");
    const credentials = await accounts.credentials("admin");
    assert.equal(credentials?.account.role, "admin");
    assert.equal(await hasher.verify(first.password, credentials!.passwordHash), true);
    assert.equal(await hasher.verify(`${first.password}x`, credentials!.passwordHash), false);
    const rows = await database.db.selectFrom("web_accounts").selectAll().execute();
    assert.doesNotMatch(JSON.stringify(rows), new RegExp(first.password));
    assert.match(rows[0]!.password_hash, /^scrypt\$1024\$8\$1\$/);
  });

  it("uses a configured first-admin password and returns no password to print", async (t) => {
    const { accounts } = await setup(t, engine);
    assert.deepEqual(await ensureFirstAdmin({ accounts, hasher, configuredPassword: PASSWORD }), {
      username: "admin",
    });
    const credentials = await accounts.credentials("admin");
    assert.equal(await hasher.verify(PASSWORD, credentials!.passwordHash), true);
  });

  it("refuses a taken username and keeps the last admin count", async (t) => {
    const { accounts, clock } = await setup(t, engine);
    const hash = await hasher.hash(PASSWORD);
    const pat = await accounts.create({
      username: "pat",
      displayName: null,
      role: "viewer",
      passwordHash: hash,
    });
    await assert.rejects(
      accounts.create({ username: "pat", displayName: "Other", role: "admin", passwordHash: hash }),
      (error: unknown) => error instanceof RelayError && error.code === "ERR_CONFLICT",
    );
    await accounts.create({ username: "root", displayName: null, role: "admin", passwordHash: hash });
    assert.equal(await accounts.countActiveAdmins(), 1);
    clock.advance(1000);
    const promoted = await accounts.setRole(pat.id, "admin");
    assert.equal(promoted.role, "admin");
    assert.equal(promoted.updatedAt, clock.now());
    assert.equal(await accounts.countActiveAdmins(), 2);
    assert.equal((await accounts.setDisabled(pat.id, true)).disabled, true);
    assert.equal(await accounts.countActiveAdmins(), 1);
    assert.deepEqual(
      (await accounts.list()).map((a) => a.username),
      ["pat", "root"],
    );
  });

  it("keeps sessions by hash, expires them, rotates CSRF tokens with them and ends them per account", async (t) => {
    const { accounts, sessions, clock, database } = await setup(t, engine);
    const account = await accounts.create({
      username: "pat",
      displayName: null,
      role: "responder",
      passwordHash: await hasher.hash(PASSWORD),
    });
    const web = createWebSessions({
      sessions,
      accounts,
      clock,
      lifetime: { idleMs: 30 * 60_000, absoluteMs: 8 * 3_600_000 },
    });
    const first = await web.start(account.id);
    const second = await web.start(account.id);
    assert.notEqual(first.sessionId, second.sessionId);
    assert.notEqual(first.session.csrfToken, second.session.csrfToken);
    assert.equal(first.session.csrfToken, csrfTokenFor(first.sessionId));
    const stored = await database.db.selectFrom("web_sessions").select("id_hash").execute();
    assert.deepEqual(
      stored.map((r) => r.id_hash).sort(),
      [hashSessionId(first.sessionId), hashSessionId(second.sessionId)].sort(),
    );
    assert.doesNotMatch(JSON.stringify(stored), new RegExp(first.sessionId));

    // Activity keeps a session alive past the idle limit, up to the absolute limit.
    for (let i = 0; i < 10; i++) {
      clock.advance(20 * 60_000);
      assert.ok(await web.resolve(first.sessionId), `alive after ${(i + 1) * 20} minutes of activity`);
    }
    assert.equal(await web.resolve(second.sessionId), undefined, "idle for 200 minutes");
    clock.advance(7 * 3_600_000);
    assert.equal(await web.resolve(first.sessionId), undefined, "past the absolute limit");

    const third = await web.start(account.id);
    await sessions.addFlash(third.session.idHash, { kind: "success", text: "Saved" });
    assert.deepEqual(await sessions.takeFlash(third.session.idHash), [{ kind: "success", text: "Saved" }]);
    assert.deepEqual(await sessions.takeFlash(third.session.idHash), []);
    await accounts.setDisabled(account.id, true);
    assert.equal(await web.resolve(third.sessionId), undefined, "a disabled account's session ends");
    assert.equal(await web.resolve("not-a-session-id"), undefined);
  });

  it("stores throttle state and purges forgotten entries", async (t) => {
    const { throttle } = await setup(t, engine);
    await throttle.put("user:pat", { failures: 3, lastFailureAt: 1000, lockedUntil: 0 });
    await throttle.put("user:pat", { failures: 6, lastFailureAt: 2000, lockedUntil: 62_000 });
    await throttle.put("addr:10.0.0.1", { failures: 1, lastFailureAt: 500, lockedUntil: 0 });
    assert.deepEqual(await throttle.get("user:pat"), {
      failures: 6,
      lastFailureAt: 2000,
      lockedUntil: 62_000,
    });
    await throttle.purge(10_000);
    assert.equal(await throttle.get("addr:10.0.0.1"), undefined);
    assert.ok(await throttle.get("user:pat"), "still locked after the purge time");
  });

  it("appends audit entries and lists them newest first, page by page", async (t) => {
    const { audit, clock } = await setup(t, engine);
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await audit.append({
        actor: "admin",
        action: i % 2 === 0 ? "org.update" : "account.create",
        targetType: "org",
        targetId: `org_${i}`,
        summary: `change ${i}`,
        details: { i },
      });
    }
    const page1 = await audit.list({ limit: 2 });
    assert.deepEqual(
      page1.map((e) => e.summary),
      ["change 4", "change 3"],
    );
    const page2 = await audit.list({ limit: 2, before: page1[1]!.id });
    assert.deepEqual(
      page2.map((e) => e.summary),
      ["change 2", "change 1"],
    );
    assert.deepEqual(
      (await audit.list({ limit: 10, action: "account." })).map((e) => e.details),
      [{ i: 3 }, { i: 1 }],
    );
    assert.equal(page1[0]!.at, clock.now());
  });
});
