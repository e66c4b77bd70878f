import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MAX_RULE_VALUE_LENGTH,
  parseDetectionRuleInput,
  parseDetectionRulePatch,
} from "../../src/core/detection-rule-input.ts";
import { parseStartDrill } from "../../src/core/drill.ts";

const fieldsOf = (result: { ok: boolean; problems?: Array<{ field: string }> }) =>
  result.ok ? [] : (result.problems ?? []).map((p) => p.field).sort();

describe("parseDetectionRuleInput", () => {
  it("accepts a phrase (spaces collapsed) and a pattern with the three named groups", () => {
    assert.deepEqual(
      parseDetectionRuleInput({ name: " Français ", kind: "phrase", value: " a passé  un appel d'urgence " }),
      {
        ok: true,
        value: { name: "Français", kind: "phrase", value: "a passé un appel d'urgence", marksTest: false },
      },
    );
    const pattern = "^(?<caller>.+?) hat (?<dialString>\\d+) gewählt$\\s*^Ort: (?<location>.+)$";
    const parsed = parseDetectionRuleInput({ name: "DE", kind: "pattern", value: pattern, marksTest: true });
    assert.deepEqual(parsed, {
      ok: true,
      value: { name: "DE", kind: "pattern", value: pattern, marksTest: true },
    });
  });

  it("names every bad field at once and never repeats a value", () => {
    const result = parseDetectionRuleInput({ name: "", kind: "regex", value: 5, marksTest: "yes", extra: 1 });
    assert.deepEqual(fieldsOf(result), ["extra", "kind", "marksTest", "name", "value"]);
    assert.deepEqual(fieldsOf(parseDetectionRuleInput({})), ["kind", "name", "value"]);
    assert.deepEqual(fieldsOf(parseDetectionRuleInput([])), ["body"]);
    const secretish = parseDetectionRuleInput({ name: "x", kind: "pattern", value: "(unclosed-SECRET" });
    assert.ok(!secretish.ok && !JSON.stringify(secretish.problems).includes("SECRET"));
  });

  const badPatterns: Record<string, string> = {
    "does not compile": "(",
    "unknown named group": "(?<who>.+) called",
    "nested quantifier": "^(a+)+$",
    "nested star": "(\\w*\\s)*call",
    "matches empty text": "x*",
    "matches ordinary chat": "ok|hello",
    "too long": `call${"x".repeat(MAX_RULE_VALUE_LENGTH)}`,
  };
  for (const [why, value] of Object.entries(badPatterns)) {
    it(`refuses a pattern that ${why}`, () => {
      const result = parseDetectionRuleInput({ name: "r", kind: "pattern", value });
      assert.deepEqual(fieldsOf(result), ["value"]);
    });
  }

  it("allows bounded repeats and lookbehind, which are not named groups", () => {
    assert.ok(
      parseDetectionRuleInput({ name: "r", kind: "pattern", value: "(?<=^)(?:\\w+\\s){0,5}Notruf" }).ok,
    );
  });

  it("refuses phrases that are too short, letterless, multi-line or the built-in one", () => {
    for (const value of ["ab", "1234 5678", "line one\u0000two", "Has placed an emergency CALL"]) {
      assert.deepEqual(
        fieldsOf(parseDetectionRuleInput({ name: "r", kind: "phrase", value })),
        ["value"],
        value,
      );
    }
  });
});

describe("parseDetectionRulePatch", () => {
  const current = { name: "Old", kind: "phrase" as const, value: "alarm raised by", marksTest: false };

  it("merges a subset onto the stored rule", () => {
    assert.deepEqual(parseDetectionRulePatch({ marksTest: true }, current), {
      ok: true,
      value: { ...current, marksTest: true },
    });
  });

  it("re-checks the stored value when the kind changes", () => {
    const result = parseDetectionRulePatch({ kind: "pattern" }, { ...current, value: "a(" });
    assert.deepEqual(fieldsOf(result), ["value"]);
    assert.ok(parseDetectionRulePatch({ kind: "pattern" }, current).ok);
  });
});

describe("parseStartDrill", () => {
  it("defaults to 15 minutes and allows 1 to 120", () => {
    assert.deepEqual(parseStartDrill(undefined), { ok: true, value: { durationMs: 15 * 60_000 } });
    assert.deepEqual(parseStartDrill({ durationMinutes: 120 }), {
      ok: true,
      value: { durationMs: 120 * 60_000 },
    });
    for (const durationMinutes of [0, 121, 1.5, "10", -5])
      assert.deepEqual(
        fieldsOf(parseStartDrill({ durationMinutes })),
        ["durationMinutes"],
        String(durationMinutes),
      );
    assert.deepEqual(fieldsOf(parseStartDrill({ minutes: 5 })), ["minutes"]);
  });
});
