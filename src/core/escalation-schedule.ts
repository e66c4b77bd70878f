// The escalation ladder of one emergency as a list of timed steps: each tier's start and its repeats. Step 0 (the
// first tier) happens when the emergency is raised; the escalation job carries out the rest as they come due,
// until someone acknowledges.
import type { EscalationTier } from "./alert-policy.ts";

export interface EscalationStep {
  /** Position in the schedule; the emergency stores how many steps are done. */
  index: number;
  /** After detection. */
  offsetMs: number;
  tier: number;
  /** 0 for the tier's start, n for its n-th repeat. */
  repeat: number;
}

export function escalationSteps(tiers: readonly EscalationTier[]): EscalationStep[] {
  const steps: Omit<EscalationStep, "index">[] = [];
  tiers.forEach((tier, t) => {
    const start = t === 0 ? 0 : tier.afterSeconds * 1000;
    steps.push({ offsetMs: start, tier: t, repeat: 0 });
    for (let r = 1; tier.repeat !== null && r <= tier.repeat.times; r++) {
      steps.push({ offsetMs: start + r * tier.repeat.everySeconds * 1000, tier: t, repeat: r });
    }
  });
  steps.sort((a, b) => a.offsetMs - b.offsetMs || a.tier - b.tier || a.repeat - b.repeat);
  return steps.map((s, index) => ({ ...s, index }));
}

/**
 * The steps to carry out now, given how many are done. After downtime several steps may be due at once: each
 * tier is notified once (its latest due step), not once per missed repeat. `done` is the new count of steps done;
 * `nextAt` is when the next step comes due, or undefined when the ladder is finished.
 */
export function dueSteps(
  steps: readonly EscalationStep[],
  doneCount: number,
  detectedAt: number,
  now: number,
): { run: EscalationStep[]; done: number; nextAt: number | undefined } {
  const due = steps.filter((s) => s.index >= doneCount && detectedAt + s.offsetMs <= now);
  const latestPerTier = new Map<number, EscalationStep>();
  for (const step of due) latestPerTier.set(step.tier, step);
  const run = [...latestPerTier.values()].sort((a, b) => a.index - b.index);
  const done = due.length === 0 ? doneCount : Math.max(doneCount, due[due.length - 1]!.index + 1);
  const next = steps.find((s) => s.index >= done);
  return { run, done, nextAt: next === undefined ? undefined : detectedAt + next.offsetMs };
}
