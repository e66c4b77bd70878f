import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Emulator } from "../../emulator/index.ts";
import { launchBrowser, newContext, screenshots, signInWithForm } from "../helpers/browser.ts";
import { startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-setup.ts";

// Who may change what, in Chromium: a viewer sees no forms and is refused when posting anyway; a forged form
// (from another origin, or without the token) is refused; repeated wrong passwords lock the sign-in.

const PASSWORD = "correct horse battery staple";

describe("access control in the browser", () => {
  let browser: Browser;
  let admin: BrowserContext;
  let adminPage: Page;
  let emu: Emulator;
  let relay: TestRelay;
  let clock: FakeClock;
  let orgId: string;
  let attacker: Server;
  let attackerUrl: string;

  before(async () => {
    browser = await launchBrowser();
    clock = new FakeClock(Date.now());
    emu = await startEmulator({ clock });
    relay = await startTestRelay(emu, clock);
    admin = await newContext(browser);
    adminPage = await admin.newPage();
    await signInWithForm(adminPage, relay.url, "admin", relay.relay.firstAdmin!.password!);
    await adminPage.goto(`${relay.url}/orgs`);
    await adminPage.getByLabel("Name").fill("Contoso");
    await adminPage.getByRole("button", { name: "Create and continue" }).click();
    await adminPage.waitForURL(/\/setup$/);
    orgId = new URL(adminPage.url()).pathname.split("/")[2]!;

    // Another web app on the same host (another port): it serves a page that posts to the relay.
    attacker = createServer((req, res) => {
      const withToken = req.url?.includes("token=")
        ? new URL(req.url, "http://x").searchParams.get("token")
        : null;
      res.writeHead(200, { "content-type": "text/html" });
      res.end(`<!doctype html><form id="f" method="post" action="${relay.url}/orgs">
<input name="name" value="Forged Org">${withToken ? `<input name="_csrf" value="${withToken}">` : ""}
<button id="go">Go</button></form>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    attackerUrl = `http://localhost:${(attacker.address() as { port: number }).port}`;
  });
  after(async () => {
    await admin?.close();
    await browser?.close();
    attacker?.close();
    await relay?.close();
    await emu?.close();
  });

  async function orgNames(): Promise<string[]> {
    return (await relay.api("GET", "/api/orgs")).json().orgs.map((o: { name: string }) => o.name);
  }

  it("an admin creates a viewer account in the accounts page", async () => {
    await adminPage.goto(`${relay.url}/accounts`);
    const form = adminPage.locator("#new-account");
    await form.getByLabel("Username").fill("vera");
    await form.getByLabel("Display name").fill("Vera Viewer");
    await form.getByLabel("Role").selectOption("viewer");
    await form.locator("#f-password").fill(PASSWORD);
    await form.locator("#f-passwordConfirm").fill(PASSWORD);
    await form.getByRole("button", { name: "Create account" }).click();
    await adminPage.getByText("Account vera created").waitFor();
    await adminPage.locator('tr[data-account="vera"]').waitFor();
    await screenshots(adminPage, "accounts");
  });

  it("a viewer sees no forms and every direct post is refused with 403", async () => {
    const context = await newContext(browser);
    try {
      const page = await context.newPage();
      await signInWithForm(page, relay.url, "vera", PASSWORD);
      await page.goto(`${relay.url}/orgs/${orgId}`);
      await page.locator(".who .badge-role", { hasText: "viewer" }).waitFor();
      assert.deepEqual(await page.locator("main form").count(), 0, "no forms in the page body");
      assert.equal(await page.getByRole("button", { name: "Test connection" }).count(), 0);
      assert.deepEqual(await page.locator(".main-nav a").allTextContents(), [
        "Orgs",
        "Board",
        "History",
        "Channels",
      ]);

      const setup = await page.goto(`${relay.url}/orgs/${orgId}/setup`);
      assert.equal(setup?.status(), 403);
      await page.getByRole("heading", { name: "Not allowed" }).waitFor();

      // The viewer's own, valid CSRF token (from the sign-out form): the role check alone refuses.
      await page.goto(`${relay.url}/orgs`);
      const token = await page.locator('input[name="_csrf"]').first().inputValue();
      for (const [path, form] of [
        ["/orgs", { name: "Viewer Org" }],
        [`/orgs/${orgId}/setup`, { step: "name", name: "Renamed by viewer" }],
        [`/orgs/${orgId}/connect`, {}],
        [`/orgs/${orgId}/renew`, {}],
        ["/accounts", { username: "eve", role: "admin", password: PASSWORD, passwordConfirm: PASSWORD }],
      ] as const) {
        const res = await page.request.post(`${relay.url}${path}`, {
          form: { ...form, _csrf: token },
          headers: { origin: relay.url },
          maxRedirects: 0,
        });
        assert.equal(res.status(), 403, path);
      }
      assert.deepEqual(await orgNames(), ["Contoso"]);
    } finally {
      await context.close();
    }
  });

  it("a form posted from another site to a signed-in admin's relay is refused and changes nothing", async () => {
    const page = await admin.newPage();
    try {
      await page.goto(`${attackerUrl}/`);
      const [response] = await Promise.all([
        page.waitForResponse(`${relay.url}/orgs`),
        page.locator("#go").click(),
      ]);
      assert.equal(response.status(), 403);
      // Even with a stolen token, the browser's Origin and Sec-Fetch-Site give the forgery away.
      await adminPage.goto(`${relay.url}/orgs`);
      const token = await adminPage.locator('input[name="_csrf"]').first().inputValue();
      await page.goto(`${attackerUrl}/?token=${encodeURIComponent(token)}`);
      const [second] = await Promise.all([
        page.waitForResponse(`${relay.url}/orgs`),
        page.locator("#go").click(),
      ]);
      assert.equal(second.status(), 403);
      assert.deepEqual(await orgNames(), ["Contoso"]);
    } finally {
      await page.close();
    }
  });

  it("a same-origin form without the CSRF token is refused, the same form with it works", async () => {
    await adminPage.goto(`${relay.url}/orgs`);
    const status = await adminPage.evaluate(async (url) => {
      const res = await fetch(`${url}/orgs`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "name=No+Token+Org",
        redirect: "manual",
      });
      return res.status;
    }, relay.url);
    assert.equal(status, 403);
    await adminPage.getByLabel("Name").fill("Fabrikam");
    await adminPage.getByRole("button", { name: "Create and continue" }).click();
    await adminPage.waitForURL(/\/setup$/);
    assert.deepEqual((await orgNames()).sort(), ["Contoso", "Fabrikam"]);
  });

  it("locks the sign-in after five wrong passwords, and says so", async () => {
    const context = await newContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${relay.url}/login`);
      for (let i = 0; i < 5; i++) {
        await page.getByLabel("Username").fill("vera");
        await page.getByLabel("Password").fill(`guess number ${i}`);
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.locator("#login-error").waitFor();
      }
      await page.getByLabel("Username").fill("vera");
      await page.getByLabel("Password").fill(PASSWORD);
      const [response] = await Promise.all([
        page.waitForResponse(`${relay.url}/login`),
        page.getByRole("button", { name: "Sign in" }).click(),
      ]);
      assert.equal(response.status(), 429);
      await page.getByText("Too many failed sign-ins. Try again in 1 minute.").waitFor();
      clock.advance(61_000);
      await signInWithForm(page, relay.url, "vera", PASSWORD);
      assert.equal(new URL(page.url()).pathname, "/orgs");
    } finally {
      await context.close();
    }
  });

  it("shows the audit log of all this to the admin", async () => {
    await adminPage.goto(`${relay.url}/audit`);
    for (const action of ["session.login", "org.create", "account.create", "session.locked"]) {
      assert.ok((await adminPage.locator(`tr[data-action="${action}"]`).count()) > 0, action);
    }
    await screenshots(adminPage, "audit-log");
  });
});
