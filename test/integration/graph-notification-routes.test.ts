import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { describe, it, type TestContext } from "node:test";
import type { FastifyInstance } from "fastify";
import { sql } from "kysely";
import { Registry } from "prom-client";
import { createCidrMatcher, parseCidrList } from "../../src/core/cidr.ts";
import { createHttpApp } from "../../src/http/create-http-app.ts";
import { installErrorHandler } from "../../src/http/error-handler.ts";
import {
  NOTIFICATION_BODY_LIMIT,
  createNotificationMetrics,
  notificationDedupeKey,
  registerGraphNotificationRoutes,
} from "../../src/http/graph-notification-routes.ts";
import { createLogger } from "../../src/logger.ts";
import { InboxStore } from "../../src/storage/inbox-store.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { SubscriptionStore } from "../../src/storage/subscription-store.ts";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const NOTIFY = "/api/graph/notifications";
const LIFECYCLE = "/api/graph/lifecycle";
const PATHS = [NOTIFY, LIFECYCLE];

interface ObservedTokens {
  cases: { decodedToken: string; queryStringVariants: Record<string, string> }[];
}
const observed: ObservedTokens = JSON.parse(
  readFileSync(new URL("../fixtures/validation-handshake/observed-tokens.json", import.meta.url), "utf8"),
);

interface Harness {
  app: FastifyInstance;
  clock: FakeClock;
  database: TestDatabase;
  inbox: InboxStore;
  registry: Registry;
  logs: () => string;
  orgA: string;
  orgB: string;
  subA: { id: string; clientState: string };
  subB: { id: string; clientState: string };
  post(
    url: string,
    payload: string | Buffer | object | undefined,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string }>;
}

interface HarnessOptions {
  /** RELAY_GRAPH_ALLOWED_CIDRS, as written in the environment. */
  allowedCidrs?: string;
  trustProxy?: boolean;
}

async function harness(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const database = await openTestDatabase("sqlite");
  t.after(() => database.close());
  const clock = new FakeClock();
  const box = createSecretBox(Buffer.alloc(32, 7));
  const orgs = new OrgStore(database.db, box, clock);
  const subscriptions = new SubscriptionStore(database.db, box);
  const inbox = new InboxStore(database.db, "sqlite");
  let logged = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logged += String(chunk);
      done();
    },
  });
  const registry = new Registry();
  const app = createHttpApp({
    logger: createLogger("debug", sink),
    checkStorage: async () => {},
    jobsRunning: () => true,
    trustProxy: options.trustProxy ?? false,
    registry,
  });
  installErrorHandler(app);
  let allowedSources: ReturnType<typeof createCidrMatcher> | undefined;
  if (options.allowedCidrs !== undefined) {
    const parsed = parseCidrList(options.allowedCidrs);
    assert.ok(parsed.ok, options.allowedCidrs);
    allowedSources = createCidrMatcher(parsed.ranges);
  }
  registerGraphNotificationRoutes(app, {
    clock,
    subscriptions,
    inbox,
    metrics: createNotificationMetrics(registry),
    ...(allowedSources ? { allowedSources } : {}),
  });
  await app.ready();
  t.after(() => app.close());

  const orgA = (await orgs.create({ name: "A" })).id;
  const orgB = (await orgs.create({ name: "B" })).id;
  const subA = { id: randomUUID(), clientState: "client-state-of-org-a-0123456789" };
  const subB = { id: randomUUID(), clientState: "client-state-of-org-b-9876543210" };
  for (const [orgId, sub] of [
    [orgA, subA],
    [orgB, subB],
  ] as const) {
    await subscriptions.save(
      {
        id: sub.id,
        orgId,
        resource: "/me/chats/getAllMessages",
        changeType: "created,updated",
        clientState: sub.clientState,
        includeResourceData: true,
        encryptionCertificateId: `relay-${orgId}-1`,
        expiresAt: clock.now() + 4200 * 60_000,
      },
      clock.now(),
    );
  }
  return {
    app,
    clock,
    database,
    inbox,
    registry,
    logs: () => logged,
    orgA,
    orgB,
    subA,
    subB,
    async post(url, payload, headers = {}) {
      const isObject = payload !== undefined && typeof payload !== "string" && !Buffer.isBuffer(payload);
      const response = await app.inject({
        method: "POST",
        url,
        headers: {
          ...(isObject ? { "content-type": "application/json; charset=utf-8" } : {}),
          ...headers,
        },
        ...(payload === undefined ? {} : { payload: isObject ? JSON.stringify(payload) : payload }),
      });
      return { status: response.statusCode, headers: response.headers, body: response.body };
    },
  };
}

function changeItem(sub: { id: string; clientState: string }, n: number, overrides: object = {}) {
  return {
    subscriptionId: sub.id,
    subscriptionExpirationDateTime: "2026-11-30T07:00:00.0000000+00:00",
    changeType: "created",
    clientState: sub.clientState,
    resource: `chats('19:chat-${n}@unq.gbl.spaces')/messages('17${n}')`,
    resourceData: { id: `17${n}`, "@odata.type": "#Microsoft.Graph.chatMessage" },
    tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
    encryptedContent: {
      data: `ciphertext-${n}`,
      dataKey: "key",
      dataSignature: "sig",
      encryptionCertificateId: "c",
    },
    ...overrides,
  };
}

async function stored(h: Harness) {
  return h.inbox.list();
}

async function metric(h: Harness, result: string): Promise<number> {
  const values = (await h.registry.getSingleMetric("relay_notifications_received_total")!.get()).values;
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe("validation handshake", () => {
  it("answers every observed token in every encoding with 200, text/plain and the decoded token, on both URLs", async (t) => {
    const h = await harness(t);
    let answered = 0;
    for (const path of PATHS) {
      for (const { decodedToken, queryStringVariants } of observed.cases) {
        for (const [name, query] of Object.entries(queryStringVariants)) {
          const res = await h.post(`${path}${query}`, "", { "content-type": "text/plain; charset=utf-8" });
          assert.equal(res.status, 200, `${path} ${name}`);
          assert.match(String(res.headers["content-type"]), /^text\/plain/);
          assert.equal(res.body, decodedToken, `${path} ${name}`);
          answered += 1;
        }
      }
    }
    assert.equal(answered, 12);
    assert.deepEqual(await stored(h), [], "a handshake is never stored");
  });

  it("decodes the way URLSearchParams does: + is a space, %2B a plus, and nothing is re-encoded", async (t) => {
    const h = await harness(t);
    const token = "Validation: a+b & <c> 100% ünïcode";
    const url = new URL(`http://relay${NOTIFY}`);
    url.searchParams.set("validationToken", token);
    const res = await h.post(`${url.pathname}${url.search}`, undefined);
    assert.equal(res.status, 200);
    assert.equal(res.body, token);
    assert.equal((await h.post(`${NOTIFY}?validationToken=a+b%2Bc`, undefined)).body, "a b+c");
  });

  it("comes before body parsing and storage: any body, any content type, even with the database gone", async (t) => {
    const h = await harness(t);
    const query = "?validationToken=Validation%3A+ok";
    const bodies: [string | undefined, Record<string, string>][] = [
      [undefined, {}],
      ["", { "content-type": "text/plain; charset=utf-8" }],
      ["{not json", { "content-type": "application/json" }],
      ["", { "content-type": "application/json" }],
      ["x=1", { "content-type": "application/x-www-form-urlencoded" }],
      ["binary", { "content-type": "application/octet-stream" }],
    ];
    for (const [body, headers] of bodies) {
      const res = await h.post(`${NOTIFY}${query}`, body, headers);
      assert.equal(res.status, 200, JSON.stringify(headers));
      assert.equal(res.body, "Validation: ok");
    }
    await h.database.close();
    const res = await h.post(`${LIFECYCLE}${query}`, "", { "content-type": "text/plain" });
    assert.equal(res.status, 200);
    assert.equal(res.body, "Validation: ok");
  });
});

describe("notifications", () => {
  it("stores each valid item of a batch spanning several subscriptions, without clientState, and answers 202", async (t) => {
    const h = await harness(t);
    const tokens = ["jwt-for-app-and-tenant"];
    const res = await h.post(NOTIFY, {
      value: [
        changeItem(h.subA, 1),
        changeItem(h.subB, 2),
        changeItem(h.subA, 3, { clientState: "wrong" }),
        changeItem({ id: randomUUID(), clientState: "whatever" }, 4),
        "not an item",
        { changeType: "created" },
      ],
      validationTokens: tokens,
    });
    assert.equal(res.status, 202);
    assert.equal(res.body, "");
    const rows = await stored(h);
    assert.deepEqual(rows.map((r) => [r.item.resource, r.subscriptionId, r.orgId, r.kind]).sort(), [
      ["chats('19:chat-1@unq.gbl.spaces')/messages('171')", h.subA.id, h.orgA, "change"],
      ["chats('19:chat-2@unq.gbl.spaces')/messages('172')", h.subB.id, h.orgB, "change"],
    ]);
    for (const row of rows) {
      assert.equal(row.item.clientState, undefined);
      assert.deepEqual(row.validationTokens, tokens);
      assert.equal(row.status, "pending");
      assert.equal(row.dedupeKey, notificationDedupeKey({ ...row.item, clientState: "ignored" }));
    }
    assert.equal(await metric(h, "stored"), 2);
    assert.equal(await metric(h, "client_state_mismatch"), 1);
    assert.equal(await metric(h, "unknown_subscription"), 1);
    assert.equal(await metric(h, "malformed"), 2);
  });

  it("a wrong clientState is answered 202, stored nowhere, counted, and logged without content", async (t) => {
    const h = await harness(t);
    const res = await h.post(NOTIFY, {
      value: [changeItem(h.subA, 7, { clientState: "guessed-client-state" })],
    });
    assert.equal(res.status, 202);
    assert.deepEqual(await stored(h), []);
    assert.equal(await metric(h, "client_state_mismatch"), 1);
    const logs = h.logs();
    assert.match(logs, /clientState does not match/);
    for (const secret of ["guessed-client-state", h.subA.clientState, "ciphertext-7", "chat-7"]) {
      assert.ok(!logs.includes(secret), `${secret} in the logs`);
    }
  });

  it("an unknown or removed subscription is answered 202 and stored nowhere", async (t) => {
    const h = await harness(t);
    const unknown = await h.post(NOTIFY, { value: [changeItem({ id: randomUUID(), clientState: "x" }, 1)] });
    assert.equal(unknown.status, 202);
    await new SubscriptionStore(h.database.db, createSecretBox(Buffer.alloc(32, 7))).markRemoved(
      h.subA.id,
      1,
    );
    const removed = await h.post(NOTIFY, { value: [changeItem(h.subA, 2)] });
    assert.equal(removed.status, 202);
    assert.deepEqual(await stored(h), []);
    assert.equal(await metric(h, "unknown_subscription"), 2);
  });

  it("lifecycle items are stored as lifecycle, and redeliveries of any item are stored once", async (t) => {
    const h = await harness(t);
    const lifecycle = {
      subscriptionId: h.subA.id,
      subscriptionExpirationDateTime: "2026-11-30T07:00:00.0000000+00:00",
      tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
      clientState: h.subA.clientState,
      lifecycleEvent: "reauthorizationRequired",
    };
    for (let i = 0; i < 2; i++) {
      assert.equal((await h.post(LIFECYCLE, { value: [lifecycle] })).status, 202);
      h.clock.advance(1000);
      assert.equal(
        (await h.post(NOTIFY, { value: [changeItem(h.subB, 5), changeItem(h.subB, 5)] })).status,
        202,
      );
      h.clock.advance(1000);
    }
    // A later request (after a renewal changed the expiry) is new, not a redelivery.
    const later = { ...lifecycle, subscriptionExpirationDateTime: "2026-12-02T07:00:00.0000000+00:00" };
    assert.equal((await h.post(LIFECYCLE, { value: [later] })).status, 202);
    const rows = await stored(h);
    assert.deepEqual(
      rows.map((r) => [r.kind, r.subscriptionId]),
      [
        ["lifecycle", h.subA.id],
        ["change", h.subB.id],
        ["lifecycle", h.subA.id],
      ],
    );
    assert.equal(rows[0]!.item.lifecycleEvent, "reauthorizationRequired");
    assert.equal(rows[0]!.item.clientState, undefined);
    assert.equal(await metric(h, "duplicate"), 4);
  });

  it("malformed JSON is a 400, and so is JSON that is not a notification collection", async (t) => {
    const h = await harness(t);
    for (const [payload, headers] of [
      ["{not json", { "content-type": "application/json" }],
      ["", { "content-type": "application/json" }],
      [undefined, {}],
      ['{"value": {"subscriptionId": "x"}}', { "content-type": "application/json" }],
      ["[]", { "content-type": "application/json" }],
      ["null", { "content-type": "application/json" }],
      ['{"value": []}garbage', { "content-type": "application/json" }],
    ] as [string | undefined, Record<string, string>][]) {
      const res = await h.post(NOTIFY, payload, headers);
      assert.equal(res.status, 400, String(payload));
      assert.equal(JSON.parse(res.body).error.code, "ERR_VALIDATION");
      assert.ok(!res.body.includes("not json"), "the body is not echoed");
    }
    assert.equal((await h.post(NOTIFY, { value: [] })).status, 202, "an empty collection is fine");
    assert.deepEqual(await stored(h), []);
  });

  it("a body over 1 MiB is a 413; a large batch under it is stored", async (t) => {
    const h = await harness(t);
    const big = {
      value: [changeItem(h.subA, 1, { encryptedContent: { data: "A".repeat(NOTIFICATION_BODY_LIMIT) } })],
    };
    const over = await h.post(NOTIFY, big);
    assert.equal(over.status, 413);
    assert.deepEqual(await stored(h), []);
    const items = Array.from({ length: 40 }, (_, i) =>
      changeItem(h.subA, i, { encryptedContent: { data: `${i}`.padEnd(20_000, "B") } }),
    );
    const under = await h.post(NOTIFY, { value: items });
    assert.equal(under.status, 202);
    assert.equal((await stored(h)).length, 40);
  });

  it("when storing fails the answer is 503, nothing of the batch is stored, and Graph's retry succeeds", async (t) => {
    const h = await harness(t);
    await sql`create trigger inbox_unwritable before insert on inbox begin select raise(abort, 'disk I/O error'); end`.execute(
      h.database.db,
    );
    const batch = { value: [changeItem(h.subA, 1), changeItem(h.subB, 2)] };
    const failed = await h.post(NOTIFY, batch);
    assert.equal(failed.status, 503);
    assert.equal(JSON.parse(failed.body).error.code, "ERR_STORAGE_UNAVAILABLE");
    assert.equal(await metric(h, "storage_failed"), 2);
    await sql`drop trigger inbox_unwritable`.execute(h.database.db);
    assert.deepEqual(await stored(h), [], "not acknowledged, not stored");
    const retried = await h.post(NOTIFY, batch);
    assert.equal(retried.status, 202);
    assert.equal((await stored(h)).length, 2);
  });

  it("with the database closed the answer is 503, never 202", async (t) => {
    const h = await harness(t);
    await h.database.close();
    const res = await h.post(NOTIFY, { value: [changeItem(h.subA, 1)] });
    assert.equal(res.status, 503);
  });
});

describe("source allow-list (RELAY_GRAPH_ALLOWED_CIDRS)", () => {
  const handshake = "?validationToken=Validation%3A+ok";

  it("refuses loopback with 403 when the list excludes it: notifications, lifecycle and the handshake, storing nothing", async (t) => {
    const h = await harness(t, { allowedCidrs: "10.0.0.0/8, 2001:db8::/32, 128.0.0.0/1" });
    for (const path of PATHS) {
      const notification = await h.post(path, { value: [changeItem(h.subA, 1)] });
      assert.equal(notification.status, 403, path);
      assert.equal(JSON.parse(notification.body).error.code, "ERR_FORBIDDEN_SOURCE");
      const validation = await h.post(`${path}${handshake}`, "", { "content-type": "text/plain" });
      assert.equal(validation.status, 403, `${path} handshake`);
      assert.ok(!validation.body.includes("Validation"), "the token is not echoed");
      // Refused before the body is read: malformed or oversize bodies get the same 403, not 400 or 413.
      const garbage = await h.post(path, "{not json", { "content-type": "application/json" });
      assert.equal(garbage.status, 403);
    }
    assert.deepEqual(await stored(h), []);
    assert.equal(await metric(h, "source_refused"), 6);
    assert.equal(await metric(h, "stored"), 0);
    assert.equal(
      (await h.registry.getSingleMetric("relay_notification_handshakes_total")!.get()).values[0]?.value ?? 0,
      0,
    );
    assert.match(h.logs(), /source address not in RELAY_GRAPH_ALLOWED_CIDRS/);
    // Only Graph's routes are restricted.
    assert.equal((await h.app.inject({ method: "GET", url: "/healthz" })).statusCode, 200);
  });

  it("accepts loopback when the list includes 127.0.0.0/8", async (t) => {
    const h = await harness(t, { allowedCidrs: "10.0.0.0/8,127.0.0.0/8" });
    const validation = await h.post(`${NOTIFY}${handshake}`, "", { "content-type": "text/plain" });
    assert.equal(validation.status, 200);
    assert.equal(validation.body, "Validation: ok");
    assert.equal((await h.post(NOTIFY, { value: [changeItem(h.subA, 1)] })).status, 202);
    assert.equal((await stored(h)).length, 1);
    assert.equal(await metric(h, "source_refused"), 0);
  });

  it("judges the socket address: IPv4-mapped IPv6 and IPv6 too; without a list every source is accepted", async (t) => {
    const from = (h: Harness, remoteAddress: string, n: number) =>
      h.app.inject({
        method: "POST",
        url: NOTIFY,
        remoteAddress,
        headers: { "content-type": "application/json" },
        payload: JSON.stringify({ value: [changeItem(h.subA, n)] }),
      });
    const listed = await harness(t, { allowedCidrs: "10.0.0.0/8,2001:db8::/32" });
    assert.equal((await from(listed, "10.20.30.40", 1)).statusCode, 202);
    assert.equal((await from(listed, "::ffff:10.20.30.40", 2)).statusCode, 202);
    assert.equal((await from(listed, "2001:db8::5", 3)).statusCode, 202);
    assert.equal((await from(listed, "::ffff:127.0.0.1", 4)).statusCode, 403);
    assert.equal((await from(listed, "::1", 5)).statusCode, 403);
    assert.equal((await from(listed, "11.0.0.1", 6)).statusCode, 403);
    assert.equal((await stored(listed)).length, 3);
    const open = await harness(t);
    assert.equal((await from(open, "198.51.100.7", 1)).statusCode, 202);
    assert.equal((await stored(open)).length, 1);
  });

  it("judges X-Forwarded-For only when the proxy is trusted", async (t) => {
    const list = "203.0.113.0/24";
    const behindProxy = await harness(t, { allowedCidrs: list, trustProxy: true });
    const viaProxy = { "x-forwarded-for": "203.0.113.9" };
    assert.equal(
      (await behindProxy.post(NOTIFY, { value: [changeItem(behindProxy.subA, 1)] }, viaProxy)).status,
      202,
    );
    assert.equal(
      (await behindProxy.post(NOTIFY, { value: [] }, { "x-forwarded-for": "198.51.100.7" })).status,
      403,
    );
    const direct = await harness(t, { allowedCidrs: list, trustProxy: false });
    assert.equal(
      (await direct.post(NOTIFY, { value: [changeItem(direct.subA, 1)] }, viaProxy)).status,
      403,
      "a spoofed X-Forwarded-For is ignored without RELAY_TRUST_PROXY",
    );
    assert.deepEqual(await stored(direct), []);
  });
});
