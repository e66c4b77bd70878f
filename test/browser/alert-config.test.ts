import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Emulator } from "../../emulator/index.ts";
import { launchBrowser, newContext, screenshots, signInWithForm } from "../helpers/browser.ts";
import { startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-setup.ts";
import { WebClient } from "../helpers/web-client.ts";

// Alert configuration in Chromium: the API's messages on the form with the focus on them, a policy form that
// saves on Enter, the template preview rendered by the server as the admin types (script under the strict CSP),
// keyboard focus that shows, and a viewer who can read everything and change nothing.

const PASSWORD = "correct horse battery staple";

describe("alert configuration in the browser", () => {
  let browser: Browser;
  let emu: Emulator;
  let relay: TestRelay;
  let context: BrowserContext;
  let page: Page;
  let orgId: string;
  const problems: string[] = [];

  before(async () => {
    browser = await launchBrowser();
    const clock = new FakeClock(Date.now());
    emu = await startEmulator({ clock });
    relay = await startTestRelay(emu, clock, { RELAY_ALLOW_PRIVATE_TARGETS: "true" });
    orgId = (await relay.api("POST", "/api/orgs", { name: "Contoso" })).json().id;
    const web = new WebClient(relay.url);
    await web.signIn("admin", relay.relay.firstAdmin!.password!);
    await web.createAccount("vera", "viewer", PASSWORD);
    context = await newContext(browser);
    page = await context.newPage();
    page.on("console", (message) => {
      // A form answered 400 (with its field errors) is logged by Chromium too; that one is expected here.
      if (message.type() === "error" && !/status of 400/.test(message.text())) problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(error.message));
    await signInWithForm(page, relay.url, "admin", relay.relay.firstAdmin!.password!);
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await relay?.close();
    await emu?.close();
  });

  it("shows the API's messages on the email form, focuses them, and saves once they are fixed", async () => {
    await page.goto(`${relay.url}/orgs/${orgId}/channels`);
    await page.getByRole("link", { name: "Email (SMTP)" }).click();
    await page.getByLabel(/^Name\b/).fill("Desk mail");
    await page.getByLabel("SMTP server").fill("mail.contoso.example");
    await page.getByLabel("Port").fill("99999");
    await page.getByLabel("From address").fill("relay@contoso.example");
    await page.getByLabel("Recipients").fill("desk@contoso.example\nnot-an-address");
    await page.getByRole("button", { name: "Add channel" }).click();
    const summary = page.locator(".error-summary");
    await summary.waitFor();
    assert.equal(await summary.evaluate((el) => el.ownerDocument.activeElement === el), true);
    assert.match(await summary.innerText(), /Port: must be an integer from 1 to 65535/);
    assert.match(await summary.innerText(), /Recipients: entry 2 of 2 must be email addresses/);
    await page.getByLabel("Port").fill("587");
    await page.getByLabel("Recipients").fill("desk@contoso.example\nfacilities@contoso.example");
    await page.getByRole("button", { name: "Add channel" }).click();
    await page.getByText("Channel Desk mail added.").waitFor();
    const [mail] = (await relay.api("GET", `/api/org/${orgId}/channels`)).json().channels;
    assert.deepEqual(
      [mail.settings.port, mail.settings.to],
      [587, ["desk@contoso.example", "facilities@contoso.example"]],
    );
  });

  it("saves a policy when Enter is pressed in a field, not the tier buttons", async () => {
    await page.goto(`${relay.url}/orgs/${orgId}/policies/new`);
    await page.locator('fieldset[data-tier="0"]').getByLabel("Desk mail").check();
    await page.getByRole("button", { name: "Add a tier" }).click();
    await page.locator('fieldset[data-tier="1"]').waitFor();
    await page.locator('fieldset[data-tier="1"]').getByLabel("Seconds after the call").fill("300");
    await page.locator('fieldset[data-tier="1"]').getByLabel("Desk mail").check();
    await screenshots(page, "policy-form");
    await page.getByLabel(/^Name\b/).fill("Night desk");
    await page.getByLabel(/^Name\b/).press("Enter");
    await page.getByText("Policy Night desk saved.").waitFor();
    const [policy] = (await relay.api("GET", `/api/org/${orgId}/policies`)).json().policies;
    assert.deepEqual(
      policy.tiers.map((t: { afterSeconds: number }) => t.afterSeconds),
      [0, 300],
    );
  });

  it("previews a template as the admin types, rendered by the server, then saves it", async () => {
    await page.goto(`${relay.url}/orgs/${orgId}/templates`);
    const section = page.locator("#template-emergency");
    const title = section.getByLabel("Title");
    await title.fill("CALL {{dialString}} — {{caller}} — {{location}}");
    await section
      .locator("[data-preview-title]", {
        hasText: "CALL 911 — Pat Jones — Building 4, Floor 2, 1 Microsoft Way, Redmond, WA 98052",
      })
      .waitFor();
    await title.fill("{{nope}}");
    await section.locator('.preview[data-preview-state="invalid"]').waitFor();
    assert.match(
      await section.locator("[data-preview-text]").innerText(),
      /title: uses unknown variable \{\{nope\}\}/,
    );
    await title.fill("CALL {{dialString}}: {{caller}}");
    await section.getByRole("button", { name: "Save" }).click();
    await page.getByText("The emergency template is saved.").waitFor();
    await screenshots(page, "templates");
    const templates = (await relay.api("GET", `/api/org/${orgId}/templates`)).json().templates;
    assert.equal(
      templates.find((t: { kind: string }) => t.kind === "emergency").title,
      "CALL {{dialString}}: {{caller}}",
    );
  });

  it("shows where the keyboard focus is", async () => {
    await page.goto(`${relay.url}/orgs/${orgId}/channels`);
    const sendTest = page.getByRole("button", { name: "Send test" });
    await sendTest.focus();
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Tab");
    const outline = await sendTest.evaluate((el) => {
      const style = el.ownerDocument.defaultView!.getComputedStyle(el);
      return `${style.outlineStyle} ${style.outlineWidth}`;
    });
    assert.match(outline, /^solid [1-9]/);
    assert.deepEqual(problems, [], "no script errors or CSP refusals");
  });

  it("a viewer reads channels, policies and templates without a single form", async () => {
    const viewerContext = await newContext(browser);
    try {
      const viewer = await viewerContext.newPage();
      await signInWithForm(viewer, relay.url, "vera", PASSWORD);
      for (const tab of ["channels", "policies", "templates"]) {
        await viewer.goto(`${relay.url}/orgs/${orgId}/${tab}`);
        assert.equal(await viewer.locator("main form").count(), 0, tab);
      }
      await viewer.goto(`${relay.url}/orgs/${orgId}/policies`);
      await viewer.getByRole("link", { name: "Night desk" }).click();
      assert.equal(await viewer.locator("main form").count(), 0);
      assert.equal(await viewer.getByRole("button", { name: /Save|Add a tier/ }).count(), 0);
      assert.equal(await viewer.getByLabel(/^Name\b/).isDisabled(), true);
    } finally {
      await viewerContext.close();
    }
  });
});
