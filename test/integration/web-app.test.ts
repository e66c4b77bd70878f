import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest, type HttpResponse } from "../helpers/http-request.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-setup.ts";

// The web app over real HTTP against a real relay (SQLite) and the emulator: sign-in, sessions, CSRF, roles,
// rate limiting, audit. The browser tests (test/browser/) drive the same pages in Chromium.

const PASSWORD = "correct horse battery staple";

/** A cookie jar and the last page's CSRF token: what a browser keeps between requests. */
class WebClient {
  readonly cookies = new Map<string, string>();
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
    return this.#send("GET", path, undefined, headers);
  }

  async post(
    path: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<HttpResponse> {
    return this.#send("POST", path, new URLSearchParams(form).toString(), {
      "content-type": "application/x-www-form-urlencoded",
      ...headers,
    });
  }

  /** The CSRF token of a signed-in page (every page has one in its sign-out form). */
  async csrf(path = "/account"): Promise<string> {
    const page = await this.get(path);
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(token, `no CSRF token on ${path} (${page.status})`);
    return token;
  }

  async signIn(username: string, password: string, next?: string): Promise<HttpResponse> {
    const form = await this.get(`/login${next ? `?next=${encodeURIComponent(next)}` : ""}`);
    const loginToken = /name="_login" value="([^"]+)"/.exec(form.text)?.[1] ?? "";
    const nextField = /name="next" value="([^"]+)"/.exec(form.text)?.[1] ?? "/orgs";
    return this.post("/login", {
      _login: loginToken,
      next: nextField.replace(/&amp;/g, "&"),
      username,
      password,
    });
  }

  async #send(method: string, path: string, body: string | undefined, headers: Record<string, string>) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const res = await httpRequest(`${this.base}${path}`, {
      method,
      headers: { ...(cookie ? { cookie } : {}), ...headers },
      ...(body !== undefined ? { body } : {}),
    });
    const setCookie = res.headers["set-cookie"];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair] = line.split(";");
      const [name, value] = pair!.split("=") as [string, string];
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }
}

describe("web app over HTTP", () => {
  let emu: Emulator;
  let relay: TestRelay;
  let clock: FakeClock;
  let adminPassword: string;

  before(async () => {
    clock = new FakeClock();
    emu = await startEmulator({ clock });
    relay = await startTestRelay(emu, clock);
    adminPassword = relay.relay.firstAdmin!.password!;
  });
  after(async () => {
    await relay?.close();
    await emu?.close();
  });

  it("creates the first admin on first start, printed nowhere in the logs", () => {
    assert.equal(relay.relay.firstAdmin?.username, "admin");
    assert.ok(adminPassword.length >= 20);
    assert.doesNotMatch(relay.logs.join(""), new RegExp(adminPassword));
  });

  it("signs the first admin in with a hardened session cookie and rotates the session id", async () => {
    const web = new WebClient(relay.url);
    const anonymous = await web.get("/orgs/anything");
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.location, "/login?next=%2Forgs%2Fanything");

    const signedIn = await web.signIn("Admin", adminPassword, "/audit");
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.headers.location, "/audit");
    const cookie = ([] as string[])
      .concat(signedIn.headers["set-cookie"] ?? [])
      .find((c) => c.startsWith("relay_session="));
    assert.ok(cookie, "session cookie set");
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Path=\//);
    // http://127.0.0.1 in tests: Secure would make the browser drop it (the https case is the __Host- cookie).
    assert.doesNotMatch(cookie, /Secure/);
    const first = web.cookies.get("relay_session")!;

    const orgs = await web.get("/orgs");
    assert.equal(orgs.status, 200);
    assert.match(orgs.text, /data-role="admin"/);
    assert.match(orgs.headers["content-security-policy"] as string, /script-src 'self';/);
    assert.doesNotMatch(orgs.headers["content-security-policy"] as string, /unsafe-inline/);
    assert.match(orgs.headers["content-security-policy"] as string, /frame-ancestors 'none'/);
    assert.equal(orgs.headers["x-frame-options"], "DENY");
    assert.equal(orgs.headers["referrer-policy"], "same-origin");
    assert.equal(orgs.headers["cache-control"], "no-store");

    // Signing in over an existing (or planted) session id issues a new id and ends the old one.
    web.cookies.delete("relay_session");
    const form = await web.get("/login");
    web.cookies.set("relay_session", first);
    const again = await web.post("/login", {
      _login: /name="_login" value="([^"]+)"/.exec(form.text)![1]!,
      username: "admin",
      password: adminPassword,
    });
    assert.equal(again.status, 303);
    const second = web.cookies.get("relay_session")!;
    assert.notEqual(second, first);
    const replay = await httpRequest(`${relay.url}/orgs`, { headers: { cookie: `relay_session=${first}` } });
    assert.equal(replay.status, 303, "the old session id no longer works");
  });

  it("refuses state changes without this session's CSRF token, or from another origin, and changes nothing", async () => {
    const web = new WebClient(relay.url);
    await web.signIn("admin", adminPassword);
    const other = new WebClient(relay.url);
    await other.signIn("admin", adminPassword);
    const token = await web.csrf();
    const otherToken = await other.csrf();
    assert.notEqual(token, otherToken);

    for (const [label, form, headers] of [
      ["no token", { name: "Forged A" }, {}],
      ["a wrong token", { name: "Forged B", _csrf: "x".repeat(43) }, {}],
      ["another session's token", { name: "Forged C", _csrf: otherToken }, {}],
      ["a foreign Origin", { name: "Forged D", _csrf: token }, { origin: "https://evil.example" }],
      ["Sec-Fetch-Site cross-site", { name: "Forged E", _csrf: token }, { "sec-fetch-site": "cross-site" }],
    ] as const) {
      const res = await web.post("/orgs", form, headers);
      assert.equal(res.status, 403, label);
      assert.match(res.text, /Not allowed/, label);
    }
    const list = await web.get("/orgs");
    assert.doesNotMatch(list.text, /Forged/);

    const ok = await web.post("/orgs", { name: "Fabrikam", _csrf: token }, { origin: relay.url });
    assert.equal(ok.status, 303);
    assert.match(String(ok.headers.location), /^\/orgs\/org_[0-9a-f]{16}\/setup$/);
  });

  it("shows the API's field errors in the wizard, escapes what was typed and never echoes the secret", async () => {
    const web = new WebClient(relay.url);
    await web.signIn("admin", adminPassword);
    const token = await web.csrf();
    const created = await web.post("/orgs", { name: `<img src=x onerror=alert(1)> Org`, _csrf: token });
    const setupPath = String(created.headers.location);
    const setup = await web.get(setupPath);
    assert.equal(setup.status, 200);
    assert.doesNotMatch(setup.text, /<img src=x/);
    assert.match(setup.text, /&lt;img src=x onerror=alert\(1\)&gt; Org/);
    const orgId = setupPath.split("/")[2]!;
    assert.match(
      setup.text,
      new RegExp(`value="${relay.url.replace(/[.]/g, "\\.")}/api/org/${orgId}/ms-teams/callback"`),
    );
    assert.match(setup.text, /ChatMessage\.Read/);

    const secret = "Abc8Q~typed.secret-value_0123";
    const bad = await web.post(setupPath, {
      _csrf: token,
      step: "app",
      tenantId: "common",
      clientId: "not-a-guid",
      clientSecret: secret,
      clientSecretExpiresAt: "",
      expectedServiceUserUpn: "",
    });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /not common, organizations or consumers/);
    assert.match(bad.text, /Application \(client\) ID from the app registration/);
    assert.match(bad.text, /aria-invalid="true"/);
    assert.doesNotMatch(bad.text, new RegExp(secret.replace(/[.~]/g, ".")));
    const api = await relay.api("GET", `/api/orgs/${orgId}`);
    assert.equal(api.json().tenantId, null, "nothing was saved");
  });

  it("lets a viewer read but not change anything: no forms, and direct posts refused 403", async () => {
    const admin = new WebClient(relay.url);
    await admin.signIn("admin", adminPassword);
    const adminToken = await admin.csrf();
    const created = await admin.post("/accounts", {
      _csrf: adminToken,
      username: "vera",
      displayName: "Vera Viewer",
      role: "viewer",
      password: PASSWORD,
      passwordConfirm: PASSWORD,
    });
    assert.equal(created.status, 303);
    const orgId = String(
      (await admin.post("/orgs", { name: "Viewer Test", _csrf: adminToken })).headers.location,
    ).split("/")[2]!;

    const viewer = new WebClient(relay.url);
    assert.equal((await viewer.signIn("vera", PASSWORD)).status, 303);
    const list = await viewer.get("/orgs");
    assert.equal(list.status, 200);
    assert.doesNotMatch(list.text, /action="\/orgs"/);
    const status = await viewer.get(`/orgs/${orgId}`);
    assert.equal(status.status, 200);
    // The only form on a viewer's page is signing out.
    assert.deepEqual(
      [...status.text.matchAll(/<form [^>]*action="([^"]+)"/g)].map((m) => m[1]),
      ["/logout"],
    );
    for (const path of ["/accounts", "/audit", `/orgs/${orgId}/setup`, `/orgs/${orgId}/checks`]) {
      assert.equal((await viewer.get(path)).status, 403, path);
    }
    const token = await viewer.csrf();
    for (const [path, form] of [
      ["/orgs", { name: "Viewer Org" }],
      [`/orgs/${orgId}/setup`, { step: "name", name: "Renamed" }],
      [`/orgs/${orgId}/connect`, {}],
      [`/orgs/${orgId}/test-connection`, {}],
      [`/orgs/${orgId}/renew`, {}],
      ["/accounts", { username: "eve", role: "admin", password: PASSWORD, passwordConfirm: PASSWORD }],
    ] as const) {
      assert.equal((await viewer.post(path, { ...form, _csrf: token })).status, 403, path);
    }
    assert.equal((await relay.api("GET", `/api/orgs/${orgId}`)).json().name, "Viewer Test");
    assert.doesNotMatch((await admin.get("/accounts")).text, /data-account="eve"/);
  });

  it("locks sign-in after five failures for that username, even for the right password, then lets it in", async () => {
    const admin = new WebClient(relay.url);
    await admin.signIn("admin", adminPassword);
    const token = await admin.csrf();
    await admin.post("/accounts", {
      _csrf: token,
      username: "rita",
      role: "responder",
      password: PASSWORD,
      passwordConfirm: PASSWORD,
    });
    const guesser = new WebClient(relay.url);
    for (let i = 1; i <= 5; i++) {
      const res = await guesser.signIn("rita", `wrong password ${i}`);
      assert.equal(res.status, 401, `failure ${i}`);
      assert.match(res.text, /Wrong username or password/);
    }
    const locked = await guesser.signIn("rita", PASSWORD);
    assert.equal(locked.status, 429);
    assert.equal(locked.headers["retry-after"], "60");
    assert.match(locked.text, /Too many failed sign-ins/);
    // An unknown username gets the very same answer as a wrong password.
    const unknown = await guesser.signIn("nobody-here", "whatever password");
    assert.equal(unknown.status, 401);
    assert.match(unknown.text, /Wrong username or password/);

    clock.advance(61_000);
    assert.equal((await guesser.signIn("rita", PASSWORD)).status, 303);
    const audit = await admin.get("/audit");
    assert.match(audit.text, /data-action="session.locked"/);
  });

  it("ends sessions on sign-out, after the idle timeout, and when an admin disables the account", async () => {
    const web = new WebClient(relay.url);
    await web.signIn("admin", adminPassword);
    const sessionId = web.cookies.get("relay_session")!;
    const out = await web.post("/logout", { _csrf: await web.csrf() });
    assert.equal(out.status, 303);
    assert.equal(out.headers.location, "/login?notice=signed_out");
    const reused = await httpRequest(`${relay.url}/orgs`, {
      headers: { cookie: `relay_session=${sessionId}` },
    });
    assert.equal(reused.status, 303, "a signed-out session id is dead on the server");

    await web.signIn("admin", adminPassword);
    clock.advance(61 * 60_000);
    assert.equal((await web.get("/orgs")).status, 303, "idle for over an hour");

    const admin = new WebClient(relay.url);
    await admin.signIn("admin", adminPassword);
    const token = await admin.csrf();
    await admin.post("/accounts", {
      _csrf: token,
      username: "dan",
      role: "responder",
      password: PASSWORD,
      passwordConfirm: PASSWORD,
    });
    const dan = new WebClient(relay.url);
    await dan.signIn("dan", PASSWORD);
    assert.equal((await dan.get("/board")).status, 200);
    const accounts = await admin.get("/accounts");
    const danId = /action="\/accounts\/(acc_[0-9a-f]+)\/disable"[\s\S]*?/.exec(
      accounts.text.slice(accounts.text.indexOf('data-account="dan"')),
    )?.[1];
    assert.ok(danId);
    assert.equal((await admin.post(`/accounts/${danId}/disable`, { _csrf: token })).status, 303);
    assert.equal((await dan.get("/board")).status, 303, "signed out at once");
    assert.equal((await dan.signIn("dan", PASSWORD)).status, 401);
  });

  it("records web and admin-API changes in the audit log, which only admins read", async () => {
    const web = new WebClient(relay.url);
    await web.signIn("admin", adminPassword);
    const created = await relay.api("POST", "/api/orgs", { name: "Via API" });
    assert.equal(created.status, 201);
    const audit = await web.get("/audit");
    assert.equal(audit.status, 200);
    for (const action of ["session.login", "org.create", "account.create", "account.disable", "api.post"]) {
      assert.match(audit.text, new RegExp(`data-action="${action.replace(".", "\\.")}"`), action);
    }
    assert.match(audit.text, /POST \/api\/orgs answered 201/);
    assert.doesNotMatch(audit.text, new RegExp(PASSWORD));
  });

  it("answers unknown pages with an HTML 404 and unknown API paths with the API's JSON 404", async () => {
    const page = await httpRequest(`${relay.url}/no-such-page`);
    assert.equal(page.status, 404);
    assert.match(String(page.headers["content-type"]), /text\/html/);
    const api = await httpRequest(`${relay.url}/api/no-such-route`);
    assert.equal(api.status, 404);
    assert.equal(api.json().error.code, "ERR_NOT_FOUND");
    const css = await httpRequest(`${relay.url}/assets/app.css`);
    assert.equal(css.status, 200);
    assert.match(String(css.headers["content-type"]), /text\/css/);
  });
});
