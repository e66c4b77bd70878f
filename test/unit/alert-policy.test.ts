import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  locationMatches,
  selectOperationsPolicy,
  selectPolicy,
  type AlertPolicy,
} from "../../src/core/alert-policy.ts";
import type { EmergencyLocation } from "../../src/core/emergency.ts";

let created = 0;
function policy(overrides: Partial<AlertPolicy>): AlertPolicy {
  created += 1;
  return {
    id: `po_${created}`,
    orgId: "org_1",
    name: `p${created}`,
    kind: "emergency",
    callType: "real",
    locationMatch: null,
    priority: 100,
    enabled: true,
    tiers: [{ afterSeconds: 0, channelIds: ["ch_1"], repeat: null }],
    retry: null,
    createdAt: created,
    updatedAt: created,
    ...overrides,
  };
}

const building4: EmergencyLocation = {
  raw: "Building 4, Floor 2, 1 Main St",
  place: "Building 4, Floor 2",
  civicAddress: "1 Main St, Springfield",
  coordinates: null,
  quality: "known",
};
const unknown: EmergencyLocation = {
  raw: null,
  place: null,
  civicAddress: null,
  coordinates: null,
  quality: "unknown",
};

describe("selectPolicy", () => {
  const general = policy({ name: "general" });
  const site = policy({
    name: "site",
    locationMatch: { field: "place", type: "substring", value: "building 4" },
  });
  const tests = policy({ name: "tests", callType: "test" });
  const disabled = policy({ name: "disabled", priority: 0 });
  disabled.enabled = false;
  const ops = policy({ name: "ops", kind: "operations", callType: "any", priority: 0 });
  const all = [general, site, tests, disabled, ops];

  it("a location-specific policy wins over a general one at the same priority", () => {
    assert.equal(selectPolicy(all, { isTest: false, location: building4 })?.name, "site");
  });
  it("no location, or another site: the general policy", () => {
    assert.equal(selectPolicy(all, { isTest: false, location: unknown })?.name, "general");
    assert.equal(
      selectPolicy(all, { isTest: false, location: { ...building4, place: "Building 7" } })?.name,
      "general",
    );
  });
  it("priority comes first", () => {
    const urgent = policy({ name: "urgent", priority: 1 });
    assert.equal(selectPolicy([...all, urgent], { isTest: false, location: building4 })?.name, "urgent");
  });
  it("a test call goes only to a test (or any) policy, never to a real one", () => {
    assert.equal(selectPolicy(all, { isTest: true, location: building4 })?.name, "tests");
    assert.equal(selectPolicy([general, site, ops], { isTest: true, location: building4 }), undefined);
    const anyPolicy = policy({ name: "any", callType: "any" });
    assert.equal(selectPolicy([general, anyPolicy], { isTest: true, location: building4 })?.name, "any");
    assert.equal(selectPolicy([tests], { isTest: false, location: building4 }), undefined);
  });
  it("operations policies never take calls; the operations choice is its own", () => {
    assert.equal(selectPolicy([ops], { isTest: false, location: building4 }), undefined);
    assert.equal(selectOperationsPolicy(all)?.name, "ops");
    assert.equal(selectOperationsPolicy([general]), undefined);
  });
});

describe("locationMatches", () => {
  it("substrings ignore case; patterns are case-insensitive regular expressions", () => {
    assert.equal(locationMatches({ field: "any", type: "substring", value: "SPRINGFIELD" }, building4), true);
    assert.equal(
      locationMatches({ field: "place", type: "substring", value: "Springfield" }, building4),
      false,
    );
    assert.equal(
      locationMatches({ field: "civicAddress", type: "pattern", value: "^1 main st" }, building4),
      true,
    );
    assert.equal(locationMatches({ field: "raw", type: "pattern", value: "floor [3-9]" }, building4), false);
  });
  it("an unknown location matches no site; a broken pattern matches nothing", () => {
    assert.equal(locationMatches({ field: "any", type: "pattern", value: ".*" }, unknown), false);
    assert.equal(locationMatches({ field: "any", type: "pattern", value: "(" }, building4), false);
  });
});
