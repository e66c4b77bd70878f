import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it, type TestContext } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { RelayError } from "../../src/core/errors.ts";
import { ValidationError } from "../../src/core/validation-error.ts";
import { requireAdmin } from "../../src/http/admin-auth.ts";
import { installErrorHandler } from "../../src/http/error-handler.ts";
import { registerOrgRoutes } from "../../src/http/org-routes.ts";
import { createLogger } from "../../src/logger.ts";
import { ADMIN_TOKEN_KEY, ensureAdminToken, verifyAdminToken } from "../../src/storage/admin-token-store.ts";
import { OrgStore } from "../../src/storage/org-store.ts";
import { createSecretBox } from "../../src/storage/secret-box.ts";
import { openTestDatabase, type TestDatabase } from "../helpers/databases.ts";
import { FakeClock } from "../helpers/fake-clock.ts";

const PUBLIC_URL = "https://relay.example.com";
const ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef";
const SECRET = "Abc8Q~the-real-client-secret.value_0123";
const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT = "11111111-2222-3333-4444-555555555555";

interface Harness {
  app: FastifyInstance;
  database: TestDatabase;
  orgs: OrgStore;
  clock: FakeClock;
  /** Everything the app logged, as raw JSON lines. */
  logs: () => string;
  call(
    method: string,
    url: string,
    options?: { body?: unknown; payload?: string; token?: string | null; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Record<string, unknown>; raw: string; json: any }>;
}

async function harness(t: TestContext, extraRoutes?: (app: FastifyInstance) => void): Promise<Harness> {
  const database = await openTestDatabase("sqlite");
  t.after(() => database.close());
  const clock = new FakeClock();
  await ensureAdminToken({ db: database.db, clock, configuredToken: ADMIN_TOKEN });
  const orgs = new OrgStore(database.db, createSecretBox(Buffer.alloc(32, 5)), clock);

  let logged = "";
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logged += String(chunk);
      done();
    },
  });
  const app = Fastify({ loggerInstance: createLogger("debug", sink) }) as unknown as FastifyInstance;
  installErrorHandler(app);
  registerOrgRoutes(app, {
    orgs,
    publicUrl: PUBLIC_URL,
    requireAdmin: requireAdmin((token) => verifyAdminToken(database.db, token)),
  });
  extraRoutes?.(app);
  t.after(() => app.close());

  return {
    app,
    database,
    orgs,
    clock,
    logs: () => logged,
    async call(method, url, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? ADMIN_TOKEN : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let payload: string | undefined = options.payload;
      if (options.body !== undefined) payload = JSON.stringify(options.body);
      if (payload !== undefined) headers["content-type"] ??= "application/json";
      const response = await app.inject({
        method: method as "GET",
        url,
        headers,
        ...(payload === undefined ? {} : { payload }),
      });
      const raw = response.body;
      return {
        status: response.statusCode,
        headers: response.headers,
        raw,
        json: raw === "" ? undefined : JSON.parse(raw),
      };
    },
  };
}

async function orgRows(database: TestDatabase) {
  return database.db.selectFrom("orgs").selectAll().orderBy("id").execute();
}

describe("org admin API", () => {
  it("answers 401 with WWW-Authenticate without a token, with a wrong one, or with another scheme", async (t) => {
    const h = await harness(t);
    const cases: { token?: string | null; headers?: Record<string, string> }[] = [
      { token: null },
      { token: "wrong-token-wrong-token-wrong-token-0000" },
      { token: `${ADMIN_TOKEN}x` },
      { token: "" },
      {
        token: null,
        headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` },
      },
      { token: null, headers: { authorization: ADMIN_TOKEN } },
    ];
    for (const options of cases) {
      for (const [method, url] of [
        ["GET", "/api/orgs"],
        ["POST", "/api/orgs"],
        ["GET", "/api/orgs/org_0000000000000000"],
        ["PATCH", "/api/orgs/org_0000000000000000"],
        ["DELETE", "/api/orgs/org_0000000000000000"],
      ] as const) {
        const response = await h.call(method, url, {
          ...options,
          body: method === "POST" || method === "PATCH" ? { name: "Evil" } : undefined,
        });
        assert.equal(response.status, 401, `${method} ${url} ${JSON.stringify(options)}`);
        assert.equal(response.json.error.code, "ERR_UNAUTHORIZED");
        assert.equal(response.headers["www-authenticate"], "Bearer");
      }
    }
    assert.deepEqual(await orgRows(h.database), []);
  });

  it("checks the token before reading the body: bad JSON from anonymous callers is a 401", async (t) => {
    const h = await harness(t);
    const response = await h.call("POST", "/api/orgs", { token: null, payload: "{not json" });
    assert.equal(response.status, 401);
  });

  it("accepts the scheme in any case", async (t) => {
    const h = await harness(t);
    const response = await h.call("GET", "/api/orgs", {
      token: null,
      headers: { authorization: `bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(response.status, 200);
  });

  it("creates an org and shows the redirect URI to register", async (t) => {
    const h = await harness(t);
    const response = await h.call("POST", "/api/orgs", {
      body: {
        name: " Contoso ",
        expectedServiceUserUpn: "svc@contoso.com",
        webhookBaseUrl: "https://relay.contoso.com/",
      },
    });
    assert.equal(response.status, 201);
    const id = response.json.id as string;
    assert.match(id, /^org_[0-9a-f]{16}$/);
    const created = new Date(h.clock.now()).toISOString();
    assert.deepEqual(response.json, {
      id,
      name: "Contoso",
      tenantId: null,
      clientId: null,
      hasClientSecret: false,
      clientSecretExpiresAt: null,
      webhookBaseUrl: "https://relay.contoso.com",
      expectedServiceUserUpn: "svc@contoso.com",
      secretExpiryWarnedDays: null,
      notificationMode: "rich",
      createdAt: created,
      updatedAt: created,
      redirectUri: `https://relay.example.com/api/org/${id}/ms-teams/callback`,
      missingForConnect: ["tenantId", "clientId", "clientSecret"],
    });
    assert.equal((await h.orgs.get(id))?.name, "Contoso");
  });

  it("rejects a create with every bad field named, and stores nothing", async (t) => {
    const h = await harness(t);
    const response = await h.call("POST", "/api/orgs", {
      body: {
        webhookBaseUrl: "http://relay.contoso.com",
        clientSecret: SECRET,
        nonsense: true,
        notificationMode: "RICH",
      },
    });
    assert.equal(response.status, 400);
    assert.equal(response.json.error.code, "ERR_VALIDATION");
    assert.deepEqual(response.json.error.fields.map((f: { field: string }) => f.field).sort(), [
      "clientSecret",
      "name",
      "nonsense",
      "notificationMode",
      "webhookBaseUrl",
    ]);
    assert.ok(!response.raw.includes(SECRET));
    assert.deepEqual(await orgRows(h.database), []);
  });

  it("updates credentials, hides the secret everywhere, and reports the org ready to connect", async (t) => {
    const h = await harness(t);
    const { json: created } = await h.call("POST", "/api/orgs", { body: { name: "Contoso" } });
    h.clock.advance(60_000);
    const response = await h.call("PATCH", `/api/orgs/${created.id}`, {
      body: {
        tenantId: TENANT.toUpperCase(),
        clientId: CLIENT,
        clientSecret: SECRET,
        clientSecretExpiresAt: "2027-05-31T00:00:00Z",
      },
    });
    assert.equal(response.status, 200);
    assert.equal(response.json.tenantId, TENANT);
    assert.equal(response.json.clientId, CLIENT);
    assert.equal(response.json.hasClientSecret, true);
    assert.equal(response.json.clientSecretExpiresAt, "2027-05-31T00:00:00.000Z");
    assert.equal(response.json.updatedAt, new Date(h.clock.now()).toISOString());
    assert.deepEqual(response.json.missingForConnect, []);
    assert.equal(await h.orgs.readClientSecret(created.id), SECRET);

    const reads = [
      response,
      await h.call("GET", `/api/orgs/${created.id}`),
      await h.call("GET", "/api/orgs"),
    ];
    for (const read of reads) {
      assert.equal(read.status, 200);
      assert.ok(!read.raw.includes(SECRET), "a response contains the secret");
      assert.ok(!/ciphertext|v1\.[0-9a-f]{8}\./.test(read.raw), "a response contains the sealed secret");
    }
    assert.ok(!h.logs().includes(SECRET), "the log contains the secret");
    assert.match(h.logs(), /org updated/);
  });

  it("rejects a PATCH with several bad fields, naming all, and changes nothing", async (t) => {
    const h = await harness(t);
    const { json: created } = await h.call("POST", "/api/orgs", { body: { name: "Contoso" } });
    await h.call("PATCH", `/api/orgs/${created.id}`, { body: { tenantId: TENANT, clientSecret: SECRET } });
    const before = await orgRows(h.database);
    h.clock.advance(1000);

    const response = await h.call("PATCH", `/api/orgs/${created.id}`, {
      body: {
        name: "Renamed",
        tenantId: "9188040d-6c67-4c5b-b112-36a304b66dad",
        clientId: "not-a-guid",
        clientSecret: "",
        clientSecretExpiresAt: "next tuesday",
        webhookBaseUrl: "ftp://relay.contoso.com",
        color: "red",
      },
    });
    assert.equal(response.status, 400);
    assert.equal(response.json.error.code, "ERR_VALIDATION");
    assert.match(response.json.error.message, /6 problems/);
    const fields = response.json.error.fields as { field: string; reason: string }[];
    assert.deepEqual(fields.map((f) => f.field).sort(), [
      "clientId",
      "clientSecret",
      "clientSecretExpiresAt",
      "color",
      "tenantId",
      "webhookBaseUrl",
    ]);
    assert.match(fields.find((f) => f.field === "tenantId")!.reason, /personal Microsoft accounts/);
    assert.deepEqual(await orgRows(h.database), before, "the valid name must not be applied either");
  });

  it("never echoes a rejected secret", async (t) => {
    const h = await harness(t);
    const { json: created } = await h.call("POST", "/api/orgs", { body: { name: "Contoso" } });
    const tooLong = `${SECRET}${"z".repeat(1100)}`;
    const response = await h.call("PATCH", `/api/orgs/${created.id}`, {
      body: { clientSecret: tooLong, client_secret: SECRET },
    });
    assert.equal(response.status, 400);
    assert.ok(!response.raw.includes(SECRET));
    assert.ok(!h.logs().includes(SECRET));
  });

  it("answers 404 for unknown orgs on GET, PATCH and DELETE", async (t) => {
    const h = await harness(t);
    for (const method of ["GET", "PATCH", "DELETE"]) {
      const response = await h.call(
        method,
        "/api/orgs/org_ffffffffffffffff",
        method === "PATCH" ? { body: { name: "X" } } : {},
      );
      assert.equal(response.status, 404, method);
      assert.equal(response.json.error.code, "ERR_NOT_FOUND");
    }
    assert.deepEqual(await orgRows(h.database), []);
  });

  it("lists, gets and deletes", async (t) => {
    const h = await harness(t);
    assert.deepEqual((await h.call("GET", "/api/orgs")).json, { orgs: [] });
    const a = (await h.call("POST", "/api/orgs", { body: { name: "Alpha" } })).json;
    h.clock.advance(1000);
    const b = (await h.call("POST", "/api/orgs", { body: { name: "Bravo" } })).json;

    const list = await h.call("GET", "/api/orgs");
    assert.deepEqual(list.json, { orgs: [a, b] });
    assert.deepEqual((await h.call("GET", `/api/orgs/${b.id}`)).json, b);

    const deleted = await h.call("DELETE", `/api/orgs/${a.id}`);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.raw, "");
    assert.equal((await h.call("GET", `/api/orgs/${a.id}`)).status, 404);
    assert.deepEqual((await h.call("GET", "/api/orgs")).json, { orgs: [b] });
  });

  it("answers bad, empty, oversized and non-JSON bodies with ERR_VALIDATION and no echo", async (t) => {
    const h = await harness(t);
    const { json: created } = await h.call("POST", "/api/orgs", { body: { name: "Contoso" } });
    const before = await orgRows(h.database);

    const badJson = await h.call("PATCH", `/api/orgs/${created.id}`, {
      payload: `{"clientSecret": "${SECRET}", oops}`,
    });
    assert.equal(badJson.status, 400);
    assert.equal(badJson.json.error.code, "ERR_VALIDATION");
    assert.match(badJson.json.error.message, /not valid JSON/);
    assert.ok(!badJson.raw.includes(SECRET));

    const empty = await h.call("POST", "/api/orgs", { payload: "" });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.code, "ERR_VALIDATION");

    const notObject = await h.call("POST", "/api/orgs", { body: ["Contoso"] });
    assert.equal(notObject.status, 400);
    assert.deepEqual(notObject.json.error.fields, [{ field: "body", reason: "must be a JSON object" }]);

    const tooLarge = await h.call("POST", "/api/orgs", { body: { name: "x".repeat(100_000) } });
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.json.error.code, "ERR_VALIDATION");

    // Fastify parses text/plain itself; the org routes take JSON only.
    for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
      const text = await h.call("POST", "/api/orgs", {
        payload: "name=Contoso",
        headers: { "content-type": type },
      });
      assert.ok([400, 415].includes(text.status), `${type}: ${text.status}`);
      assert.equal(text.json.error.code, "ERR_VALIDATION");
    }
    const xml = await h.call("PATCH", `/api/orgs/${created.id}`, {
      payload: "<name/>",
      headers: { "content-type": "application/xml" },
    });
    assert.equal(xml.status, 415);
    assert.equal(xml.json.error.code, "ERR_VALIDATION");
    const plain = await h.call("PATCH", `/api/orgs/${created.id}`, {
      payload: "{}",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(plain.status, 400);
    assert.deepEqual(plain.json.error.fields, [
      { field: "content-type", reason: "must be application/json" },
    ]);

    assert.deepEqual(await orgRows(h.database), before);
    assert.ok(!h.logs().includes(SECRET));
  });
});

describe("error handler", () => {
  it("maps RelayError codes, hides unexpected errors, and logs them", async (t) => {
    const h = await harness(t, (app) => {
      app.get("/boom/relay", async () => {
        throw new RelayError("ERR_STORAGE_UNAVAILABLE", "Database unreachable");
      });
      app.get("/boom/validation", async () => {
        throw new ValidationError([{ field: "limit", reason: "must be an integer" }]);
      });
      app.get("/boom/unexpected", async () => {
        throw new Error(`driver said: password=${SECRET}`);
      });
      app.get("/boom/thrown-string", async () => {
        throw "plain string";
      });
    });
    const relay = await h.call("GET", "/boom/relay");
    assert.equal(relay.status, 503);
    assert.deepEqual(relay.json, {
      error: { code: "ERR_STORAGE_UNAVAILABLE", message: "Database unreachable" },
    });

    const validation = await h.call("GET", "/boom/validation");
    assert.equal(validation.status, 400);
    assert.deepEqual(validation.json.error.fields, [{ field: "limit", reason: "must be an integer" }]);
    assert.equal(validation.json.error.code, "ERR_VALIDATION");

    const unexpected = await h.call("GET", "/boom/unexpected");
    assert.equal(unexpected.status, 500);
    assert.equal(unexpected.json.error.code, "ERR_INTERNAL");
    assert.ok(!unexpected.raw.includes("driver said"));
    assert.ok(!unexpected.raw.includes(SECRET));
    assert.match(h.logs(), /driver said/, "the real error goes to the log");

    const thrown = await h.call("GET", "/boom/thrown-string");
    assert.equal(thrown.status, 500);
    assert.equal(thrown.json.error.code, "ERR_INTERNAL");
  });

  it("maps schema validation errors to ERR_VALIDATION with fields", async (t) => {
    const h = await harness(t, (app) => {
      app.post(
        "/schema",
        {
          schema: { body: { type: "object", required: ["name"], properties: { name: { type: "string" } } } },
        },
        async () => ({ ok: true }),
      );
    });
    const response = await h.call("POST", "/schema", { body: { other: 1 } });
    assert.equal(response.status, 400);
    assert.equal(response.json.error.code, "ERR_VALIDATION");
    assert.deepEqual(
      response.json.error.fields.map((f: { field: string }) => f.field),
      ["name"],
    );
  });

  it("answers unknown routes with ERR_NOT_FOUND without echoing the query", async (t) => {
    const h = await harness(t);
    const response = await h.call("GET", "/nowhere?code=SECRET-CODE");
    assert.equal(response.status, 404);
    assert.equal(response.json.error.code, "ERR_NOT_FOUND");
    assert.ok(!response.raw.includes("SECRET-CODE"));
  });
});

describe("admin token", () => {
  it("generates a token once, stores only its hash, and verifies it", async (t) => {
    const database = await openTestDatabase("sqlite");
    t.after(() => database.close());
    const clock = new FakeClock();
    const { generatedToken } = await ensureAdminToken({ db: database.db, clock });
    assert.ok(generatedToken);
    assert.match(generatedToken, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await ensureAdminToken({ db: database.db, clock }), {}, "a later start prints nothing");

    const rows = await database.db.selectFrom("kv").selectAll().execute();
    assert.deepEqual(
      rows.map((r) => r.key),
      [ADMIN_TOKEN_KEY],
    );
    assert.match(rows[0]!.value, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(rows).includes(generatedToken));

    assert.equal(await verifyAdminToken(database.db, generatedToken), true);
    assert.equal(await verifyAdminToken(database.db, `${generatedToken}x`), false);
    assert.equal(await verifyAdminToken(database.db, ""), false);
  });

  it("lets a configured token replace a generated one", async (t) => {
    const database = await openTestDatabase("sqlite");
    t.after(() => database.close());
    const clock = new FakeClock();
    const { generatedToken } = await ensureAdminToken({ db: database.db, clock });
    assert.deepEqual(await ensureAdminToken({ db: database.db, clock, configuredToken: ADMIN_TOKEN }), {});
    assert.equal(await verifyAdminToken(database.db, ADMIN_TOKEN), true);
    assert.equal(await verifyAdminToken(database.db, generatedToken!), false);
    // Unset again: the configured token's hash stays; nothing new is generated.
    assert.deepEqual(await ensureAdminToken({ db: database.db, clock }), {});
    assert.equal(await verifyAdminToken(database.db, ADMIN_TOKEN), true);
  });

  it("verifies nothing before a token exists", async (t) => {
    const database = await openTestDatabase("sqlite");
    t.after(() => database.close());
    assert.equal(await verifyAdminToken(database.db, ADMIN_TOKEN), false);
  });
});
