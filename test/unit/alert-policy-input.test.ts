import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePolicyInput, parsePolicyPatch } from "../../src/core/alert-policy-input.ts";

const channels = new Set(["ch_a", "ch_b", "ch_c"]);
const fieldsOf = (result: ReturnType<typeof parsePolicyInput>) =>
  result.ok ? [] : result.problems.map((p) => p.field);

describe("parsePolicyInput", () => {
  it("fills defaults for a minimal emergency policy", () => {
    const result = parsePolicyInput({ name: " Desk ", tiers: [{ channelIds: ["ch_a"] }] }, channels);
    assert.deepEqual(result, {
      ok: true,
      value: {
        name: "Desk",
        kind: "emergency",
        callType: "real",
        locationMatch: null,
        priority: 100,
        enabled: true,
        tiers: [{ afterSeconds: 0, channelIds: ["ch_a"], repeat: null }],
        retry: null,
      },
    });
  });

  it("names every bad field, nested ones with their path", () => {
    const result = parsePolicyInput(
      {
        name: "",
        callType: "sometimes",
        colour: "red",
        priority: 1.5,
        locationMatch: { type: "pattern", value: "(a+)+" },
        tiers: [
          { afterSeconds: 10, channelIds: ["ch_a", "ch_a"], repeat: { everySeconds: 5, times: 0 } },
          { afterSeconds: 0, channelIds: ["ch_unknown"] },
        ],
        retry: { maxAttempts: 0, windowSeconds: 60, extra: 1 },
      },
      channels,
    );
    assert.deepEqual(fieldsOf(result).sort(), [
      "callType",
      "colour",
      "locationMatch.value",
      "name",
      "priority",
      "retry.extra",
      "retry.maxAttempts",
      "tiers[0].afterSeconds",
      "tiers[0].channelIds[1]",
      "tiers[0].repeat.everySeconds",
      "tiers[0].repeat.times",
      "tiers[1].afterSeconds",
      "tiers[1].channelIds[0]",
    ]);
  });

  it("requires name and tiers, and reasons never repeat values", () => {
    const result = parsePolicyInput({ locationMatch: { type: "substring", value: "x" } }, channels);
    assert.deepEqual(fieldsOf(result).sort(), ["name", "tiers"]);
    const bad = parsePolicyInput({ name: "secret-looking-value\n", tiers: "secret-looking-value" }, channels);
    assert.equal(JSON.stringify(bad).includes("secret-looking-value"), false);
  });

  it("an operations policy: one tier, no repeat, no location match, call type any", () => {
    const ok = parsePolicyInput(
      { name: "Ops", kind: "operations", tiers: [{ channelIds: ["ch_b"] }] },
      channels,
    );
    assert.equal(ok.ok && ok.value.callType, "any");
    const bad = parsePolicyInput(
      {
        name: "Ops",
        kind: "operations",
        callType: "real",
        locationMatch: { type: "substring", value: "x" },
        tiers: [
          { channelIds: ["ch_b"], repeat: { everySeconds: 60, times: 2 } },
          { afterSeconds: 60, channelIds: ["ch_a"] },
        ],
      },
      channels,
    );
    assert.deepEqual(fieldsOf(bad).sort(), ["callType", "locationMatch", "tiers", "tiers[0].repeat"]);
  });

  it("a patch is merged and the result checked whole", () => {
    const current = parsePolicyInput(
      {
        name: "Desk",
        tiers: [
          { channelIds: ["ch_a"] },
          { afterSeconds: 120, channelIds: ["ch_b"], repeat: { everySeconds: 60, times: 3 } },
        ],
      },
      channels,
    );
    assert.ok(current.ok);
    const renamed = parsePolicyPatch({ name: "Front desk", enabled: false }, current.value, channels);
    assert.equal(renamed.ok && renamed.value.name, "Front desk");
    assert.equal(renamed.ok && renamed.value.tiers.length, 2);
    // The tiers still name ch_b; once it is gone, any patch shows the dangling reference.
    const gone = parsePolicyPatch({ enabled: true }, current.value, new Set(["ch_a"]));
    assert.deepEqual(fieldsOf(gone), ["tiers[1].channelIds[0]"]);
  });
});
