import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Emulator } from "../../emulator/index.ts";
import { launchBrowser, newContext, screenshots, signInWithForm } from "../helpers/browser.ts";
import { control, startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { seedTenant, startTestRelay, type TenantSetup, type TestRelay } from "../helpers/relay-setup.ts";

// The first admin's day one, in Chromium: sign in, create an org in the wizard, register the app (in the
// emulator, with the redirect URI the wizard shows), enter its values, connect through the emulator's sign-in
// page, come back to "Connected", and read the status page. Writes the wizard and status screenshots.

describe("setup wizard in the browser", () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let emu: Emulator;
  let relay: TestRelay;
  let clock: FakeClock;
  let tenant: TenantSetup;
  let orgId: string;

  before(async () => {
    browser = await launchBrowser();
    clock = new FakeClock(Date.now());
    // No auto-consent: the browser goes through the emulator's account picker like a person would.
    emu = await startEmulator({ clock, allowHttpWebhooks: true, autoConsent: false });
    relay = await startTestRelay(emu, clock);
    tenant = await seedTenant(emu);
    context = await newContext(browser);
    page = await context.newPage();
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await relay?.close();
    await emu?.close();
  });

  it("signs the first admin in with the password printed at first start", async () => {
    const admin = relay.relay.firstAdmin!;
    await page.goto(relay.url);
    assert.equal(new URL(page.url()).pathname, "/login");
    await page.getByLabel("Username").fill(admin.username);
    await page.getByLabel("Password").fill("not the password at all");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("Wrong username or password.").waitFor();
    await signInWithForm(page, relay.url, admin.username, admin.password!);
    assert.equal(new URL(page.url()).pathname, "/orgs");
    await page.locator(".who .badge-role", { hasText: "admin" }).waitFor();
    assert.deepEqual(await page.locator(".main-nav a").allTextContents(), [
      "Orgs",
      "Board",
      "History",
      "Channels",
      "Audit log",
      "Accounts",
    ]);
  });

  it("creates the org and shows the exact redirect URI and the delegated permissions", async () => {
    await page.getByLabel("Name").fill("Contoso");
    await page.getByRole("button", { name: "Create and continue" }).click();
    await page.waitForURL(/\/orgs\/org_[0-9a-f]{16}\/setup$/);
    orgId = new URL(page.url()).pathname.split("/")[2]!;
    await page.getByText("Organization Contoso created").waitFor();
    const redirectUri = await page.locator("#redirect-uri").inputValue();
    assert.equal(redirectUri, `${relay.url}/api/org/${orgId}/ms-teams/callback`);
    const permissions = await page.locator("#permissions tbody code").allTextContents();
    assert.deepEqual(permissions, [
      "User.Read",
      "Chat.Read",
      "Chat.ReadBasic",
      "ChatMessage.Read",
      "openid",
      "offline_access",
      "profile",
    ]);
    await page.getByText("No application permissions are needed").waitFor();
    assert.equal(await page.locator("#connect-button").isDisabled(), true, "nothing to connect with yet");
  });

  it("takes the app's values, with the API's field errors for bad ones, then connects through Microsoft's sign-in", async () => {
    const redirectUri = await page.locator("#redirect-uri").inputValue();
    const expires = new Date(Date.now() + 180 * 86_400_000).toISOString().slice(0, 10);
    const app = await control(emu, "POST", `/_emulator/tenants/${tenant.tenantId}/apps`, {
      displayName: "Teams Emergency Relay",
      redirectUris: [redirectUri],
      secretExpiresAt: `${expires}T00:00:00Z`,
    });

    await page.getByLabel("Directory (tenant) ID").fill("common");
    await page.getByLabel("Application (client) ID").fill(app.clientId);
    await page.getByLabel("Client secret value").fill(app.clientSecret);
    await page.getByRole("button", { name: "Save app values" }).click();
    await page.locator(".error-summary").waitFor();
    assert.match(
      await page.locator("#f-tenantId-error").innerText(),
      /not common, organizations or consumers/,
    );
    assert.equal(await page.locator("#f-clientSecret").inputValue(), "", "the secret is not sent back");

    await page.getByLabel("Directory (tenant) ID").fill(tenant.tenantId);
    await page.getByLabel("Client secret value").fill(app.clientSecret);
    await page.getByLabel("Client secret expires").fill(expires);
    await page.getByLabel("Service user").fill(tenant.serviceUser.userPrincipalName);
    await page.getByRole("button", { name: "Save app values" }).click();
    await page
      .getByText(/Saved: tenantId, clientId, clientSecret, clientSecretExpiresAt, expectedServiceUserUpn/)
      .waitFor();
    assert.equal(await page.locator("#step-app.step-done").count(), 1);
    await screenshots(page, "setup-wizard");

    await page.locator("#connect-button").click();
    // The emulator's account picker (its stand-in for Entra's sign-in page).
    await page.getByRole("heading", { name: "Pick an account" }).waitFor();
    await page.locator(`button.account[data-upn="${tenant.serviceUser.userPrincipalName}"]`).click();
    await page.locator('#result[data-result="connected"]').waitFor();
    assert.match(await page.locator("body").innerText(), new RegExp(tenant.serviceUser.userPrincipalName));
    await page.locator("#back-to-org").click();
    await page.waitForURL(`${relay.url}/orgs/${orgId}`);
  });

  it("shows the connection, token times, secret days left and the subscription on the status page", async () => {
    // The subscription is created by a job; the test runs jobs itself (no timers).
    await relay.relay.scheduler.runDue();
    await emu.settle();
    await page.reload();
    await page.locator("#connection .badge", { hasText: "Connected" }).waitFor();
    assert.match(
      await page.locator("#service-user").innerText(),
      new RegExp(tenant.serviceUser.userPrincipalName),
    );
    const secretDays = Number(await page.locator("#secret-days-left").innerText());
    assert.ok(secretDays >= 178 && secretDays <= 180, `secret days left: ${secretDays}`);
    await page.locator("#subscription .badge", { hasText: "Active" }).waitFor();
    assert.match(await page.locator("#events").innerText(), /connected/);

    await page.getByRole("button", { name: "Test connection" }).click();
    await page.getByText("Connection works: a new access token was issued.").waitFor();
    await page.getByRole("button", { name: "Renew now" }).click();
    await page.getByText(/Subscription renewed; it now expires/).waitFor();
    await screenshots(page, "org-status");
  });

  it("runs the doctor's checks for the org and shows each with its result", async () => {
    await page.goto(`${relay.url}/orgs/${orgId}/checks`);
    const statuses = await page
      .locator(".check")
      .evaluateAll((items) =>
        items.map((item) => [
          item.querySelector("strong")?.textContent ?? "",
          item.getAttribute("data-status"),
        ]),
      );
    const byName = Object.fromEntries(statuses);
    assert.equal(byName["Entra ID sign-in reachable"], "pass");
    assert.equal(byName[`webhook handshake ${relay.url}/api/graph/notifications`], "pass");
    assert.equal(byName[`org "Contoso" (${orgId}) connection`], "pass");
    assert.equal(byName[`org "Contoso" (${orgId}) subscription`], "pass");
    await screenshots(page, "org-checks");
  });

  it("is usable with the keyboard: a skip link first, visible focus, labelled fields", async () => {
    await page.goto(`${relay.url}/orgs/${orgId}/setup`);
    await page.keyboard.press("Tab");
    assert.equal(await page.locator(":focus").textContent(), "Skip to main content");
    await page.keyboard.press("Enter");
    assert.equal(await page.locator(":focus").getAttribute("id"), "main");
    // Every visible input has a label (or an aria-label): what a screen reader announces.
    const inputs = page.locator("input:not([type=hidden]):not([hidden])");
    const unlabelled: string[] = [];
    for (const input of await inputs.all()) {
      const id = await input.getAttribute("id");
      const labelled =
        (await input.getAttribute("aria-label")) !== null ||
        (id !== null && (await page.locator(`label[for="${id}"]`).count()) > 0) ||
        (await input.locator("xpath=ancestor::label").count()) > 0;
      if (!labelled) unlabelled.push((await input.getAttribute("name")) ?? "?");
    }
    assert.deepEqual(unlabelled, []);
  });
});
