import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dueSteps, escalationSteps } from "../../src/core/escalation-schedule.ts";

const tiers = [
  { afterSeconds: 0, channelIds: ["a"], repeat: { everySeconds: 60, times: 2 } },
  { afterSeconds: 90, channelIds: ["b"], repeat: null },
  { afterSeconds: 300, channelIds: ["c"], repeat: { everySeconds: 120, times: 1 } },
];

describe("escalation schedule", () => {
  it("lists tier starts and repeats in time order", () => {
    assert.deepEqual(
      escalationSteps(tiers).map((s) => [s.index, s.offsetMs / 1000, s.tier, s.repeat]),
      [
        [0, 0, 0, 0],
        [1, 60, 0, 1],
        [2, 90, 1, 0],
        [3, 120, 0, 2],
        [4, 300, 2, 0],
        [5, 420, 2, 1],
      ],
    );
  });

  it("runs what is due, one step at a time, and says when the next one comes", () => {
    const steps = escalationSteps(tiers);
    assert.deepEqual(dueSteps(steps, 1, 0, 59_999), { run: [], done: 1, nextAt: 60_000 });
    const atMinute = dueSteps(steps, 1, 0, 60_000);
    assert.deepEqual(
      atMinute.run.map((s) => s.index),
      [1],
    );
    assert.deepEqual([atMinute.done, atMinute.nextAt], [2, 90_000]);
    assert.deepEqual(dueSteps(steps, 6, 0, 10_000_000), { run: [], done: 6, nextAt: undefined });
  });

  it("after downtime, each tier is notified once (its latest due step)", () => {
    const steps = escalationSteps(tiers);
    const late = dueSteps(steps, 1, 1000, 1000 + 130_000);
    assert.deepEqual(
      late.run.map((s) => [s.tier, s.repeat]),
      [
        [1, 0],
        [0, 2],
      ],
    );
    assert.deepEqual([late.done, late.nextAt], [4, 1000 + 300_000]);
  });

  it("a single tier without repeats is done after step 0", () => {
    const steps = escalationSteps([{ afterSeconds: 0, channelIds: ["a"], repeat: null }]);
    assert.deepEqual(dueSteps(steps, 1, 0, 1e9), { run: [], done: 1, nextAt: undefined });
  });
});
