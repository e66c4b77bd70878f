import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Emulator } from "../../emulator/index.ts";
import { MAX_RULES_PER_ORG } from "../../src/core/detection-rule-input.ts";
import { startEmulator } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest } from "../helpers/http-request.ts";
import { createOrgWithApp, seedTenant, startTestRelay, type TestRelay } from "../helpers/relay-setup.ts";

const clock = new FakeClock();
let emu: Emulator;
let relay: TestRelay;
let orgId: string;

before(async () => {
  emu = await startEmulator({ clock, allowHttpWebhooks: true });
  relay = await startTestRelay(emu, clock);
  orgId = (await createOrgWithApp(emu, relay, await seedTenant(emu))).orgId;
});
after(async () => {
  await relay.close();
  await emu.close();
});

const rulesUrl = () => `/api/org/${orgId}/detection-rules`;
const fields = (body: { error: { fields?: Array<{ field: string }> } }) =>
  (body.error.fields ?? []).map((f) => f.field).sort();

describe("detection admin API", () => {
  it("is admin-only and knows its orgs", async () => {
    for (const [method, path] of [
      ["GET", rulesUrl()],
      ["POST", rulesUrl()],
      ["POST", `${rulesUrl()}/test`],
      ["GET", `/api/org/${orgId}/drills`],
      ["POST", `/api/org/${orgId}/drills`],
    ] as const) {
      const anonymous = await relay.api(method, path, method === "POST" ? {} : undefined, null);
      assert.equal(anonymous.status, 401, `${method} ${path}`);
      const wrong = await relay.api(method, path, method === "POST" ? {} : undefined, "x".repeat(40));
      assert.equal(wrong.status, 401, `${method} ${path}`);
    }
    const unknown = await relay.api("GET", "/api/org/org_0000000000000000/detection-rules");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json().error.code, "ERR_NOT_FOUND");
  });

  it("rules: bad input names every field and changes nothing; good input is listed after the built-in rule", async () => {
    const bad = await relay.api("POST", rulesUrl(), { name: "", kind: "regex", value: 5, colour: "red" });
    assert.equal(bad.status, 400);
    assert.equal(bad.json().error.code, "ERR_VALIDATION");
    assert.deepEqual(fields(bad.json()), ["colour", "kind", "name", "value"]);
    const badPattern = await relay.api("POST", rulesUrl(), {
      name: "x",
      kind: "pattern",
      value: "(?<who>.+) (a+)+",
    });
    assert.deepEqual(fields(badPattern.json()), ["value"]);
    const textBody = await httpRequest(`${relay.url}${rulesUrl()}`, {
      method: "POST",
      headers: { authorization: `Bearer ${relay.adminToken}`, "content-type": "text/plain" },
      body: "name=x",
    });
    assert.equal(textBody.status, 400);
    assert.deepEqual((await relay.api("GET", rulesUrl())).json().rules, []);

    const phrase = await relay.api("POST", rulesUrl(), {
      name: "Français",
      kind: "phrase",
      value: "a passé un appel d'urgence",
    });
    assert.equal(phrase.status, 201, phrase.text);
    const pattern = await relay.api("POST", rulesUrl(), {
      name: "Deutsch",
      kind: "pattern",
      value: "^Notruf: (?<caller>.+) hat (?<dialString>\\d+) gewählt$",
      marksTest: true,
    });
    assert.equal(pattern.status, 201, pattern.text);
    const listed = (await relay.api("GET", rulesUrl())).json();
    assert.deepEqual(listed.defaultRule, {
      id: "default",
      name: "Teams notification (English)",
      kind: "phrase",
      value: "has placed an Emergency Call",
      marksTest: false,
      builtIn: true,
    });
    assert.deepEqual(
      listed.rules.map((r: { name: string; marksTest: boolean }) => [r.name, r.marksTest]),
      [
        ["Français", false],
        ["Deutsch", true],
      ],
    );

    const id = phrase.json().id;
    const badPatch = await relay.api("PATCH", `${rulesUrl()}/${id}`, { value: "ab", name: "" });
    assert.equal(badPatch.status, 400);
    assert.deepEqual(fields(badPatch.json()), ["name", "value"]);
    const patched = await relay.api("PATCH", `${rulesUrl()}/${id}`, { marksTest: true });
    assert.equal(patched.status, 200);
    assert.deepEqual([patched.json().value, patched.json().marksTest], ["a passé un appel d'urgence", true]);
    assert.equal((await relay.api("PATCH", `${rulesUrl()}/default`, { name: "x" })).status, 409);
    assert.equal((await relay.api("DELETE", `${rulesUrl()}/default`)).status, 409);
    assert.equal((await relay.api("PATCH", `${rulesUrl()}/rule_nope`, { name: "x" })).status, 404);
    assert.equal((await relay.api("DELETE", `${rulesUrl()}/${pattern.json().id}`)).status, 204);
    assert.equal((await relay.api("DELETE", `${rulesUrl()}/${pattern.json().id}`)).status, 404);
    assert.deepEqual(
      (await relay.api("GET", rulesUrl())).json().rules.map((r: { id: string }) => r.id),
      [id],
    );
  });

  it("dry run: a message, HTML or text against the org's rules plus a candidate rule", async () => {
    const html = await relay.api("POST", `${rulesUrl()}/test`, {
      html: "<p>Pat Caller has placed an Emergency Call</p><p>Dialed: 911</p><p>Location: Lobby</p>",
    });
    assert.equal(html.status, 200, html.text);
    const result = html.json();
    assert.equal(result.emergency, true);
    assert.equal(result.ruleId, "default");
    assert.equal(result.value.dialString, "911");
    assert.equal(result.value.location.place, "Lobby");
    assert.equal(result.text, "Pat Caller has placed an Emergency Call\n\nDialed: 911\n\nLocation: Lobby");

    const org = await relay.api("POST", `${rulesUrl()}/test`, {
      text: "Pat Caller a passé un appel d'urgence",
    });
    assert.equal(org.json().emergency, true, "the org's phrase rule from the previous test");
    assert.equal(org.json().value.isTest, true);

    const candidate = await relay.api("POST", `${rulesUrl()}/test`, {
      message: {
        id: "1",
        chatId: "c",
        messageType: "message",
        from: { user: { id: "u", displayName: "Pat Caller" } },
        body: { contentType: "html", content: "<p>Alarm: Pat Caller</p>" },
      },
      rule: { kind: "pattern", value: "^Alarm: (?<caller>.+)$" },
    });
    assert.equal(candidate.json().ruleId, "candidate");
    assert.equal(candidate.json().value.caller.id, "u");
    const ordinary = await relay.api("POST", `${rulesUrl()}/test`, {
      text: "did you see who placed an emergency call?",
    });
    assert.equal(ordinary.json().emergency, false);
    assert.match(ordinary.json().reason, /does not contain/);

    const bad = await relay.api("POST", `${rulesUrl()}/test`, {
      html: "x",
      text: "y",
      rule: { kind: "phrase" },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(fields(bad.json()), ["body", "rule.value"]);
  });

  it(`an org has at most ${MAX_RULES_PER_ORG} rules`, async () => {
    const existing = (await relay.api("GET", rulesUrl())).json().rules.length;
    for (let i = existing; i < MAX_RULES_PER_ORG; i++) {
      const created = await relay.api("POST", rulesUrl(), {
        name: `r${i}`,
        kind: "phrase",
        value: `phrase number ${i}`,
      });
      assert.equal(created.status, 201, created.text);
    }
    const over = await relay.api("POST", rulesUrl(), {
      name: "one more",
      kind: "phrase",
      value: "one more phrase",
    });
    assert.equal(over.status, 409);
    assert.equal((await relay.api("GET", rulesUrl())).json().rules.length, MAX_RULES_PER_ORG);
  });

  it("drills: duration checked, one at a time, unknown ids are 404, ending is idempotent", async () => {
    const drills = `/api/org/${orgId}/drills`;
    for (const durationMinutes of [0, 121, "15"]) {
      const bad = await relay.api("POST", drills, { durationMinutes });
      assert.equal(bad.status, 400);
      assert.deepEqual(fields(bad.json()), ["durationMinutes"]);
    }
    assert.deepEqual((await relay.api("GET", drills)).json().drills, []);
    const started = await relay.api("POST", drills);
    assert.equal(started.status, 201, started.text);
    const drill = started.json();
    assert.equal(
      Date.parse(drill.endsAt) - Date.parse(drill.startedAt),
      15 * 60_000,
      "15 minutes by default",
    );
    assert.equal(drill.captureCount, 0);
    assert.equal((await relay.api("POST", drills, { durationMinutes: 5 })).status, 409);
    assert.equal((await relay.api("GET", `${drills}/drill_nope`)).status, 404);
    assert.equal((await relay.api("POST", `${drills}/${drill.id}/captures/cap_nope/fixture`)).status, 404);
    assert.equal((await relay.api("POST", `${drills}/${drill.id}/captures/cap_nope/rule`, {})).status, 404);

    const shown = (await relay.api("GET", `${drills}/${drill.id}`)).json();
    assert.deepEqual([shown.state, shown.captures], ["running", []]);
    clock.advance(16 * 60_000);
    assert.equal((await relay.api("GET", `${drills}/${drill.id}`)).json().state, "ended", "over on its own");
    const ended = await relay.api("POST", `${drills}/${drill.id}/end`);
    assert.equal(ended.status, 200);
    assert.equal(ended.json().endedEarly, false);
    assert.equal(ended.json().endsAt, drill.endsAt);
    assert.equal((await relay.api("POST", drills, { durationMinutes: 120 })).status, 201);
  });
});
