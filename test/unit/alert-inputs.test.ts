import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseAckBody, responderNameFromForm } from "../../src/core/acknowledgement-input.ts";
import { parseChannelCommon } from "../../src/core/alert-channel-input.ts";
import { parseEmergencyQuery } from "../../src/core/emergency-query.ts";

const fields = (r: { ok: boolean; problems?: { field: string }[] }) =>
  r.ok ? [] : r.problems!.map((p) => p.field);

describe("emergency list filters", () => {
  it("parses every filter", () => {
    assert.deepEqual(
      parseEmergencyQuery({
        orgId: "org_1",
        since: "2026-11-27T09:00:00Z",
        until: "2026-11-28T00:00:00+01:00",
        state: "open",
        limit: "5",
      }),
      {
        ok: true,
        value: {
          orgId: "org_1",
          since: Date.parse("2026-11-27T09:00:00Z"),
          until: Date.parse("2026-11-27T23:00:00Z"),
          state: "open",
          limit: 5,
        },
      },
    );
  });
  it("names every bad one", () => {
    assert.deepEqual(
      fields(
        parseEmergencyQuery({
          since: "yesterday",
          until: "2026-11-27",
          state: "closed",
          limit: "0",
          colour: "x",
        }),
      ).sort(),
      ["colour", "limit", "since", "state", "until"],
    );
    assert.deepEqual(
      fields(parseEmergencyQuery({ since: "2026-11-27T10:00:00Z", until: "2026-11-27T09:00:00Z" })),
      ["until"],
    );
    assert.deepEqual(fields(parseEmergencyQuery({ orgId: ["a", "b"] })), ["orgId"]);
  });
});

describe("acknowledgement input", () => {
  it("the confirm page's name is optional and forgiving", () => {
    assert.equal(responderNameFromForm(undefined), null);
    assert.equal(responderNameFromForm("   "), null);
    assert.equal(responderNameFromForm(" Alex\r\n Doe\t"), "Alex Doe");
    assert.equal(responderNameFromForm("x".repeat(500))?.length, 100);
  });
  it("the API requires who", () => {
    assert.deepEqual(parseAckBody({ by: " Alex " }), { ok: true, value: { by: "Alex" } });
    assert.deepEqual(fields(parseAckBody({})), ["by"]);
    assert.deepEqual(fields(parseAckBody({ by: "a\nb", extra: 1 })).sort(), ["by", "extra"]);
  });
});

describe("channel common fields", () => {
  it("splits type, name and enabled from the type's settings", () => {
    assert.deepEqual(parseChannelCommon({ type: "webhook", name: " Hook ", url: "https://x" }, "create"), {
      ok: true,
      value: { type: "webhook", name: "Hook", config: { url: "https://x" } },
    });
    assert.deepEqual(fields(parseChannelCommon({ type: "pager", enabled: "yes" }, "create")).sort(), [
      "enabled",
      "name",
      "type",
    ]);
    assert.deepEqual(fields(parseChannelCommon({ type: "email" }, "update")), ["type"]);
    assert.deepEqual(parseChannelCommon({ enabled: false }, "update"), {
      ok: true,
      value: { enabled: false, config: {} },
    });
  });
});
