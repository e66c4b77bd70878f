import { randomBytes } from "node:crypto";

let sequence = 0;

/**
 * Ids that sort by time and, within one millisecond of one thread, by order of writing: lists read as they
 * happened, and a primary-key index grows at its end instead of taking random pages (the webhook's inbox writes
 * several thousand rows a second).
 */
export function sortableId(now: number): string {
  sequence = (sequence + 1) % 36 ** 4;
  return `${now.toString(36).padStart(9, "0")}${sequence.toString(36).padStart(4, "0")}${randomBytes(4).toString("hex")}`;
}

/** The smallest id `sortableId` can produce at `at` or later: a range-scan bound on time-sorted ids. */
export function sortableIdFloor(at: number): string {
  return Math.max(0, Math.floor(at)).toString(36).padStart(9, "0");
}
