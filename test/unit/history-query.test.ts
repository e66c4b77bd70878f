import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { historyCursor, parseHistoryQuery } from "../../src/core/history-query.ts";

describe("history filters", () => {
  it("turns the form into the store's filter: whole UTC days, `to` included, real or test", () => {
    const { filter, problems, values } = parseHistoryQuery({
      orgId: "org_1",
      state: "acknowledged",
      from: "2026-11-01",
      to: "2026-11-30",
      type: "test",
    });
    assert.deepEqual(problems, []);
    assert.deepEqual(filter, {
      orgId: "org_1",
      state: "acknowledged",
      isTest: true,
      since: Date.parse("2026-11-01T00:00:00Z"),
      until: Date.parse("2026-12-01T00:00:00Z"),
    });
    assert.equal(values.type, "test");
  });

  it("treats empty fields as any and names bad ones", () => {
    assert.deepEqual(parseHistoryQuery({ orgId: "", state: "", from: "", to: "", type: "all" }).filter, {});
    const { problems, filter } = parseHistoryQuery({
      state: "lost",
      from: "2026-02-31",
      to: "yesterday",
      type: "drill",
    });
    assert.deepEqual(
      problems.map((p) => p.field),
      ["state", "type", "from", "to"],
    );
    assert.deepEqual(filter, {});
    const backwards = parseHistoryQuery({ from: "2026-11-30", to: "2026-11-01" });
    assert.deepEqual(backwards.problems, [{ field: "to", reason: "must not be before the from date" }]);
  });

  it("pages with a cursor of the last row and ignores a malformed one", () => {
    const cursor = historyCursor({ detectedAt: 1700000000000, id: "em_0123456789abcdef" });
    assert.deepEqual(parseHistoryQuery({ before: cursor }).filter.before, {
      detectedAt: 1700000000000,
      id: "em_0123456789abcdef",
    });
    assert.equal(parseHistoryQuery({ before: "1_' or 1=1" }).filter.before, undefined);
  });
});
