import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { detectEmergency } from "../../src/core/detect-emergency.ts";
import type { DetectionFixture } from "../../src/core/detection-fixture.ts";

// Every file in test/fixtures/detection is a case: a message as Graph delivers it, the per-org rules it needs, and
// the fields detection must produce. Drills export captures in this format (POST …/captures/{id}/fixture), so a
// message captured in a real tenant becomes a case by saving the file here.
const dir = path.resolve(import.meta.dirname, "../fixtures/detection");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".json"))
  .sort();

describe("detection fixture corpus", () => {
  it("covers every required shape", () => {
    const fixtures = files.map(
      (f) => JSON.parse(readFileSync(path.join(dir, f), "utf8")) as DetectionFixture,
    );
    const positives = fixtures.filter((f) => f.expected.emergency);
    const dials = new Set(positives.map((f) => (f.expected as { dialString?: string }).dialString));
    for (const dial of ["911", "933", "112", null]) assert.ok(dials.has(dial as string), `a ${dial} case`);
    const qualities = new Set(
      positives.map((f) => (f.expected as { location?: { quality: string } }).location?.quality),
    );
    for (const quality of ["known", "user_entered", "unknown"]) assert.ok(qualities.has(quality), quality);
    assert.ok(fixtures.filter((f) => !f.expected.emergency).length >= 10, "ordinary messages");
  });

  for (const file of files) {
    const fixture = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as DetectionFixture;
    it(`${file}: ${fixture.description}`, () => {
      const result = detectEmergency(fixture.message, fixture.rules ?? []);
      const { expected } = fixture;
      if (!expected.emergency) {
        assert.equal(result.emergency, false, `expected no emergency, got ${JSON.stringify(result)}`);
        if (!result.emergency) assert.ok(result.reason.length > 0);
        return;
      }
      assert.ok(result.emergency, `expected an emergency: ${result.emergency ? "" : result.reason}`);
      const { emergency: _e, ruleId, ...fields } = expected;
      assert.equal(result.ruleId, ruleId);
      for (const [field, value] of Object.entries(fields)) {
        assert.deepEqual(result.value[field as keyof typeof result.value], value, field);
      }
      const body = fixture.message.body as { content: string };
      assert.equal(result.value.html, body.content, "the raw body is kept");
      assert.ok(result.value.text.length > 0);
    });
  }
});
