import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePolicyInput } from "../../src/core/alert-policy-input.ts";
import { channelBodyFromForm, withoutSecrets } from "../../src/web/channel-form.ts";
import {
  policyBodyFromForm,
  policyFormAction,
  policyFormFromPolicy,
  policyFormFromRequest,
  policyProblemAnchor,
  withTierAdded,
  withTierRemoved,
} from "../../src/web/policy-form.ts";

describe("channel form", () => {
  it("leaves empty fields out on create, so required ones are named and a signing secret is generated", () => {
    assert.deepEqual(
      channelBodyFromForm("webhook", { name: "Desk", enabled: "on", url: "", signingSecret: "" }, "create"),
      { type: "webhook", name: "Desk", enabled: true },
    );
  });

  it("on update keeps an empty secret, clears an emptied optional setting and refuses an emptied required one", () => {
    const body = channelBodyFromForm(
      "email",
      {
        name: "Mail",
        host: "",
        port: "",
        username: "",
        password: "",
        from: "a@b.example",
        to: "x@y.example, z@y.example",
      },
      "update",
    );
    assert.deepEqual(body, {
      name: "Mail",
      enabled: false,
      host: "",
      port: null,
      username: null,
      from: "a@b.example",
      to: ["x@y.example", "z@y.example"],
    });
    assert.equal(channelBodyFromForm("email", { port: "587" }, "create").port, 587);
    assert.equal(
      channelBodyFromForm("email", { port: "5x" }, "create").port,
      "5x",
      "left for the parser to name",
    );
  });

  it("never puts typed secrets back into a form", () => {
    assert.deepEqual(withoutSecrets("sms", { name: "n", authToken: "t", accountSid: "AC1", _csrf: "c" }), {
      name: "n",
      accountSid: "AC1",
    });
  });
});

describe("policy form", () => {
  const channels = ["ch_a", "ch_b"];
  const posted = {
    tierCount: "2",
    name: "Desk",
    kind: "emergency",
    callType: "real",
    "locationMatch.type": "substring",
    "locationMatch.field": "place",
    "locationMatch.value": "Building 4",
    priority: "50",
    enabled: "on",
    "tiers[0].channel.ch_a": "on",
    "tiers[0].repeat.everySeconds": "60",
    "tiers[0].repeat.times": "3",
    "tiers[1].afterSeconds": "120",
    "tiers[1].channel.ch_b": "on",
    "tiers[1].channel.ch_unknown": "on",
  };

  it("maps the posted form to the API's policy body, which its parser accepts", () => {
    const body = policyBodyFromForm(policyFormFromRequest(posted, channels));
    assert.deepEqual(body, {
      name: "Desk",
      kind: "emergency",
      callType: "real",
      locationMatch: { field: "place", type: "substring", value: "Building 4" },
      priority: 50,
      enabled: true,
      retry: null,
      tiers: [
        { afterSeconds: 0, channelIds: ["ch_a"], repeat: { everySeconds: 60, times: 3 } },
        { afterSeconds: 120, channelIds: ["ch_b"], repeat: null },
      ],
    });
    assert.equal(parsePolicyInput(body, new Set(channels)).ok, true);
  });

  it("round-trips a stored policy, and adds and removes tiers", () => {
    const values = policyFormFromRequest(posted, channels);
    const parsed = parsePolicyInput(policyBodyFromForm(values), new Set(channels));
    assert.ok(parsed.ok);
    const stored = { ...parsed.value, id: "po_1", orgId: "org_1", createdAt: 0, updatedAt: 0 };
    assert.deepEqual(policyFormFromPolicy(stored), values);
    const added = withTierAdded(values);
    assert.deepEqual(added.tiers[2], {
      afterSeconds: "240",
      channelIds: [],
      repeatEverySeconds: "",
      repeatTimes: "",
    });
    const removed = withTierRemoved(added, 0);
    assert.equal(removed.tiers.length, 2);
    assert.equal(removed.tiers[0]!.afterSeconds, "0", "the new first tier starts at once");
    assert.deepEqual(removed.tiers[0]!.channelIds, ["ch_b"]);
  });

  it("tells the buttons apart and links the parser's problems to their inputs", () => {
    assert.deepEqual(policyFormAction({}), { kind: "save" });
    assert.deepEqual(policyFormAction({ action: "add-tier" }), { kind: "add-tier" });
    assert.deepEqual(policyFormAction({ action: "remove-tier-3" }), { kind: "remove-tier", index: 3 });
    assert.equal(policyProblemAnchor("tiers[1].channelIds[0]"), "tiers[1].channelIds");
    assert.equal(policyProblemAnchor("tiers[0].repeat"), "tiers[0].repeat.everySeconds");
    assert.equal(policyProblemAnchor("tiers[2].repeat.times"), "tiers[2].repeat.times");
    assert.equal(policyProblemAnchor("tiers"), "tiers[0].channelIds");
    assert.equal(policyProblemAnchor("locationMatch"), "locationMatch.type");
    assert.equal(policyProblemAnchor("name"), "name");
  });
});
