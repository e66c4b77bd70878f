import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { startHttpReceiver, type HttpReceiver } from "../helpers/channel-receivers.ts";
import { startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-setup.ts";
import { WebClient } from "../helpers/web-client.ts";

// The alert configuration pages over real HTTP: the same parsers and messages as the admin API, secrets
// write-only, every change in the audit log, viewers read-only.

const PASSWORD = "correct horse battery staple";
const SECRET_PATH = "hook-with-token-Zq9SECRETzz";

describe("alert configuration pages over HTTP", () => {
  let emu: Emulator;
  let relay: TestRelay;
  let hooks: HttpReceiver;
  let admin: WebClient;
  let viewer: WebClient;
  let orgId: string;
  let token: string;
  let hookId: string;

  before(async () => {
    const clock = new FakeClock();
    emu = await startEmulator({ clock });
    relay = await startTestRelay(emu, clock, { RELAY_ALLOW_PRIVATE_TARGETS: "true" });
    hooks = await startHttpReceiver();
    admin = new WebClient(relay.url);
    await admin.signIn("admin", relay.relay.firstAdmin!.password!);
    await admin.createAccount("vera", "viewer", PASSWORD);
    viewer = new WebClient(relay.url);
    await viewer.signIn("vera", PASSWORD);
    orgId = (await relay.api("POST", "/api/orgs", { name: "Contoso" })).json().id;
    token = await admin.csrf();
  });
  after(async () => {
    await relay?.close();
    await hooks?.close();
    await emu?.close();
  });

  const channelsApi = async () => (await relay.api("GET", `/api/org/${orgId}/channels`)).json().channels;

  it("/channels leads to the only org's channels", async () => {
    const res = await admin.get("/channels");
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, `/orgs/${orgId}/channels`);
  });

  it("adds a webhook channel: a generated signing secret is shown once, the URL never again", async () => {
    const form = await admin.get(`/orgs/${orgId}/channels/new?type=webhook`);
    assert.equal(form.status, 200);
    assert.match(form.text, /name="url"/);
    const created = await admin.post(`/orgs/${orgId}/channels`, {
      _csrf: token,
      type: "webhook",
      name: "Desk hook",
      enabled: "on",
      url: `${hooks.url}/${SECRET_PATH}`,
      signingSecret: "",
    });
    assert.equal(created.status, 200);
    const secret = /id="generated-signingSecret" class="code" readonly value="(whsec_[^"]+)"/.exec(
      created.text,
    )?.[1];
    assert.ok(secret, "the generated secret, once");
    assert.match(created.text, /Channel Desk hook added/);
    const [channel] = await channelsApi();
    hookId = channel.id;
    assert.deepEqual(
      [channel.type, channel.name, channel.enabled, channel.settings.hasSigningSecret],
      ["webhook", "Desk hook", true, true],
    );
    for (const path of [`/orgs/${orgId}/channels`, `/orgs/${orgId}/channels/${hookId}`, "/audit"]) {
      const page = await admin.get(path);
      assert.equal(page.status, 200, path);
      assert.ok(!page.text.includes(SECRET_PATH), `no webhook URL on ${path}`);
      assert.ok(!page.text.includes(secret), `no signing secret on ${path}`);
    }
    const edit = await admin.get(`/orgs/${orgId}/channels/${hookId}`);
    assert.match(
      edit.text,
      /Set: http:\/\/127\.0\.0\.1:\d+\/… \(the full URL is never shown\)\. Leave blank to keep it\./,
    );
  });

  it("refuses bad input with the API's own messages, and never shows a typed secret back", async () => {
    const body = { type: "webhook", name: "", url: "ftp://example.com/x", signingSecret: "not-a-secret" };
    const viaApi = await relay.api("POST", `/api/org/${orgId}/channels`, body);
    assert.equal(viaApi.status, 400);
    const reasons = viaApi.json().error.fields.map((f: { field: string; reason: string }) => f.reason);
    assert.ok(reasons.length >= 3);
    const page = await admin.post(`/orgs/${orgId}/channels`, { _csrf: token, enabled: "on", ...body });
    assert.equal(page.status, 400);
    for (const reason of reasons) assert.ok(page.text.includes(escape(reason)), reason);
    assert.ok(!page.text.includes("not-a-secret"));
    assert.ok(
      !page.text.includes("ftp://example.com/x"),
      "secrets (the URL too) are not put back into the form",
    );
  });

  it("edits keep a secret left blank, and every change is audited without values", async () => {
    const saved = await admin.post(`/orgs/${orgId}/channels/${hookId}`, {
      _csrf: token,
      name: "Security desk hook",
      enabled: "on",
      url: "",
      signingSecret: "",
    });
    assert.equal(saved.status, 303);
    const test = await admin.post(`/orgs/${orgId}/channels/${hookId}/test`, { _csrf: token });
    assert.equal(test.status, 303);
    const [arrived] = await hooks.waitForRequests(1);
    assert.equal(arrived!.path, `/${SECRET_PATH}`, "the stored URL was kept");
    assert.equal(arrived!.json.type, "test");
    const list = await admin.get(`/orgs/${orgId}/channels`);
    assert.match(list.text, /Test alert to Security desk hook delivered \(HTTP 200 OK\) in \d+ ms\./);

    hooks.failNext(1, 503);
    await admin.post(`/orgs/${orgId}/channels/${hookId}/test`, { _csrf: token });
    assert.match((await admin.get(`/orgs/${orgId}/channels`)).text, /not delivered: retry \(HTTP 503/);

    assert.equal(
      (await admin.post(`/orgs/${orgId}/channels/${hookId}/disable`, { _csrf: token })).status,
      303,
    );
    assert.equal((await channelsApi())[0].enabled, false);
    await admin.post(`/orgs/${orgId}/channels/${hookId}/enable`, { _csrf: token });
    assert.equal((await channelsApi())[0].enabled, true);

    const audit = await admin.get("/audit");
    for (const action of [
      "channel.create",
      "channel.update",
      "channel.test",
      "channel.disable",
      "channel.enable",
    ])
      assert.match(audit.text, new RegExp(`data-action="${action.replace(".", "\\.")}"`), action);
  });

  it("adds an email channel: ports as numbers, recipients one per line", async () => {
    const res = await admin.post(`/orgs/${orgId}/channels`, {
      _csrf: token,
      type: "email",
      name: "Desk mail",
      enabled: "on",
      host: "127.0.0.1",
      security: "none",
      port: "2525",
      username: "",
      password: "",
      from: "relay@contoso.example",
      to: "desk@contoso.example\r\nfacilities@contoso.example\r\n",
    });
    assert.equal(res.status, 303, res.text.slice(0, 2000));
    const mail = (await channelsApi()).find((c: { name: string }) => c.name === "Desk mail");
    assert.deepEqual(mail.settings.to, ["desk@contoso.example", "facilities@contoso.example"]);
    assert.equal(mail.settings.port, 2525);
    const edit = await admin.get(`/orgs/${orgId}/channels/${mail.id}`);
    assert.match(edit.text, /desk@contoso\.example\nfacilities@contoso\.example<\/textarea/);
    const bad = await admin.post(`/orgs/${orgId}/channels/${mail.id}`, {
      _csrf: token,
      name: "Desk mail",
      enabled: "on",
      host: "127.0.0.1",
      security: "none",
      port: "seventy",
      from: "relay@contoso.example",
      to: "not an address",
    });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /Port: must be an integer from 1 to 65535/);
    assert.match(bad.text, /Recipients: entry 1 of 1 must be email addresses such as desk@example\.com/);
  });

  it("builds a policy with two escalation tiers, adding a tier on the page", async () => {
    const channels = await channelsApi();
    const mail = channels.find((c: { name: string }) => c.name === "Desk mail").id;
    const added = await admin.post(`/orgs/${orgId}/policies`, {
      _csrf: token,
      action: "add-tier",
      tierCount: "1",
      name: "Security desk",
      kind: "emergency",
      callType: "real",
      priority: "100",
      enabled: "on",
      [`tiers[0].channel.${hookId}`]: "on",
    });
    assert.equal(added.status, 200);
    assert.match(added.text, /name="tierCount" value="2"/);
    assert.match(added.text, /<legend>Tier 1<\/legend>/);
    assert.match(
      added.text,
      new RegExp(`name="tiers\\[0\\]\\.channel\\.${hookId}"\\s+checked`),
      "kept the choice",
    );

    const fields = {
      _csrf: token,
      action: "save",
      tierCount: "2",
      name: "Security desk",
      kind: "emergency",
      callType: "real",
      "locationMatch.type": "",
      priority: "100",
      enabled: "on",
      [`tiers[0].channel.${hookId}`]: "on",
      "tiers[0].repeat.everySeconds": "60",
      "tiers[0].repeat.times": "2",
      "tiers[1].afterSeconds": "0",
      [`tiers[1].channel.${mail}`]: "on",
    };
    const refused = await admin.post(`/orgs/${orgId}/policies`, fields);
    assert.equal(refused.status, 400);
    assert.match(refused.text, /tiers\[1\]\.afterSeconds: must be greater than the previous tier&#39;s/);
    assert.match(refused.text, /href="#f-tiers\[1\]\.afterSeconds"/);

    const saved = await admin.post(`/orgs/${orgId}/policies`, { ...fields, "tiers[1].afterSeconds": "120" });
    assert.equal(saved.status, 303);
    const [policy] = (await relay.api("GET", `/api/org/${orgId}/policies`)).json().policies;
    assert.deepEqual(policy.tiers, [
      { afterSeconds: 0, channelIds: [hookId], repeat: { everySeconds: 60, times: 2 } },
      { afterSeconds: 120, channelIds: [mail], repeat: null },
    ]);
    assert.deepEqual([policy.callType, policy.locationMatch, policy.priority], ["real", null, 100]);

    // Editing: remove the reminders, add a site match; a removed tier is gone on save.
    const removed = await admin.post(`/orgs/${orgId}/policies/${policy.id}`, {
      ...fields,
      "tiers[1].afterSeconds": "120",
      action: "remove-tier-1",
    });
    assert.match(removed.text, /name="tierCount" value="1"/);
    const edited = await admin.post(`/orgs/${orgId}/policies/${policy.id}`, {
      ...fields,
      tierCount: "1",
      "tiers[0].repeat.everySeconds": "",
      "tiers[0].repeat.times": "",
      "locationMatch.type": "substring",
      "locationMatch.field": "place",
      "locationMatch.value": "Building 4",
    });
    assert.equal(edited.status, 303);
    const [after] = (await relay.api("GET", `/api/org/${orgId}/policies`)).json().policies;
    assert.deepEqual(after.tiers, [{ afterSeconds: 0, channelIds: [hookId], repeat: null }]);
    assert.deepEqual(after.locationMatch, { field: "place", type: "substring", value: "Building 4" });

    const inUse = await admin.post(`/orgs/${orgId}/channels/${hookId}/delete`, { _csrf: token });
    assert.equal(inUse.status, 303);
    assert.match(
      (await admin.get(`/orgs/${orgId}/channels`)).text,
      /Not deleted: Channel ch_[0-9a-f]+ is used by policy &quot;Security desk&quot;/,
    );
    const list = await admin.get(`/orgs/${orgId}/policies`);
    assert.match(list.text, /data-policy-name="Security desk"/);
    assert.match((await admin.get("/audit")).text, /data-action="policy\.update"/);
  });

  it("previews and saves templates, refusing unknown variables as the API does", async () => {
    const page = await admin.get(`/orgs/${orgId}/templates`);
    assert.equal(page.status, 200);
    assert.match(page.text, /data-preview-url="\/orgs\/org_[0-9a-f]+\/templates\/emergency\/preview"/);
    assert.match(page.text, /EMERGENCY CALL 911: Pat Jones at Building 4, Floor 2/);

    const preview = await admin.post(
      `/orgs/${orgId}/templates/emergency/preview`,
      { _csrf: token, title: "911 {{caller}} <{{location}}>", text: "Where: {{place}}\r\nMap: {{mapUrl}}" },
      { accept: "application/json" },
    );
    assert.equal(preview.status, 200);
    assert.deepEqual(preview.json(), {
      ok: true,
      title: "911 Pat Jones <Building 4, Floor 2, 1 Microsoft Way, Redmond, WA 98052>",
      text: "Where: Building 4, Floor 2\nMap: https://www.google.com/maps/search/?api=1&query=47.6396,-122.1283",
    });
    const unknown = await admin.post(`/orgs/${orgId}/templates/emergency`, {
      _csrf: token,
      action: "save",
      title: "{{caler}} called",
      text: "x",
    });
    assert.equal(unknown.status, 400);
    const apiReason = (
      await relay.api("PUT", `/api/org/${orgId}/templates/emergency`, {
        title: "{{caler}} called",
        text: "x",
      })
    ).json().error.fields[0].reason;
    assert.ok(unknown.text.includes(escape(apiReason)));

    const saved = await admin.post(`/orgs/${orgId}/templates/emergency`, {
      _csrf: token,
      action: "save",
      title: "CALL {{dialString}}: {{caller}}",
      text: "Go to {{location}}",
    });
    assert.equal(saved.status, 303);
    const templates = (await relay.api("GET", `/api/org/${orgId}/templates`)).json().templates;
    const emergency = templates.find((t: { kind: string }) => t.kind === "emergency");
    assert.deepEqual([emergency.title, emergency.isDefault], ["CALL {{dialString}}: {{caller}}", false]);
    await admin.post(`/orgs/${orgId}/templates/emergency/reset`, { _csrf: token });
    const reset = (await relay.api("GET", `/api/org/${orgId}/templates`)).json().templates;
    assert.equal(reset.find((t: { kind: string }) => t.kind === "emergency").isDefault, true);
    const audit = (await admin.get("/audit")).text;
    assert.match(audit, /data-action="template\.update"/);
    assert.match(audit, /data-action="template\.reset"/);
  });

  it("a viewer sees channels, policies and templates without forms, and every post is refused", async () => {
    for (const path of [
      `/orgs/${orgId}/channels`,
      `/orgs/${orgId}/channels/${hookId}`,
      `/orgs/${orgId}/policies`,
      `/orgs/${orgId}/templates`,
    ]) {
      const page = await viewer.get(path);
      assert.equal(page.status, 200, path);
      const main = page.text.slice(page.text.indexOf("<main"));
      assert.doesNotMatch(main, /<form/, `no forms on ${path}`);
    }
    const [policy] = (await relay.api("GET", `/api/org/${orgId}/policies`)).json().policies;
    assert.equal((await viewer.get(`/orgs/${orgId}/policies/${policy.id}`)).status, 200);
    assert.equal((await viewer.get(`/orgs/${orgId}/channels/new?type=webhook`)).status, 403);
    const viewerToken = await viewer.csrf("/board");
    for (const path of [
      `/orgs/${orgId}/channels`,
      `/orgs/${orgId}/channels/${hookId}`,
      `/orgs/${orgId}/channels/${hookId}/test`,
      `/orgs/${orgId}/channels/${hookId}/delete`,
      `/orgs/${orgId}/policies`,
      `/orgs/${orgId}/policies/${policy.id}/delete`,
      `/orgs/${orgId}/templates/emergency`,
    ]) {
      const res = await viewer.post(path, {
        _csrf: viewerToken,
        type: "webhook",
        name: "x",
        url: "https://x.example",
      });
      assert.equal(res.status, 403, path);
    }
  });
});

function escape(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}
