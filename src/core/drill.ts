import type { DetectionResult } from "./emergency.ts";
import type { ParseResult } from "./org-input.ts";
import type { FieldProblem } from "./validation-error.ts";

// Drills: because Teams' notification format is unpublished and varies by tenant and language, an admin opens a
// window, dials 933, and sees exactly what arrived and what detection made of it. Only while a drill runs are
// ordinary messages kept (as captures); captures go DRILL_CAPTURE_RETENTION_MS after the drill ends.

export interface Drill {
  id: string;
  orgId: string;
  startedAt: number;
  /** When it stops capturing on its own. */
  endsAt: number;
  /** When an admin ended it early; null otherwise. */
  endedAt: number | null;
  /** When its captures were deleted (retention), or null while they are kept. */
  capturesPurgedAt: number | null;
}

export interface DrillCapture {
  id: string;
  drillId: string;
  orgId: string;
  chatId: string;
  messageId: string;
  capturedAt: number;
  /** The Graph chatMessage as the relay received it. */
  message: Record<string, unknown>;
  result: DetectionResult;
}

export type NewDrillCapture = Omit<DrillCapture, "id">;

export const DEFAULT_DRILL_MINUTES = 15;
export const MAX_DRILL_MINUTES = 120;
export const DRILL_CAPTURE_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

/** When the drill stops (or stopped) capturing. */
export function drillEnd(drill: Drill): number {
  return drill.endedAt === null ? drill.endsAt : Math.min(drill.endedAt, drill.endsAt);
}

export function isDrillRunning(drill: Drill, now: number): boolean {
  return drill.startedAt <= now && now < drillEnd(drill);
}

/** `POST /api/org/{orgId}/drills`: `{ durationMinutes? }`, 1 to 120, default 15. Returns the duration in ms. */
export function parseStartDrill(body: unknown): ParseResult<{ durationMs: number }> {
  const fields = body === undefined || body === null ? {} : body;
  if (typeof fields !== "object" || Array.isArray(fields))
    return { ok: false, problems: [{ field: "body", reason: "must be a JSON object" }] };
  const problems: FieldProblem[] = [];
  for (const field of Object.keys(fields))
    if (field !== "durationMinutes")
      problems.push({ field, reason: "is not a known field (expected durationMinutes)" });
  const minutes = (fields as Record<string, unknown>).durationMinutes ?? DEFAULT_DRILL_MINUTES;
  if (typeof minutes !== "number" || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_DRILL_MINUTES)
    problems.push({
      field: "durationMinutes",
      reason: `must be a whole number of minutes from 1 to ${MAX_DRILL_MINUTES} (default ${DEFAULT_DRILL_MINUTES})`,
    });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { durationMs: (minutes as number) * 60_000 } };
}
