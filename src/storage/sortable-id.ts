import { randomBytes } from "node:crypto";

let sequence = 0;

/** Random suffixes drawn from one buffer refilled every 1,024 ids: a randomBytes call per id cost more than the id. */
const SUFFIX_BYTES = 4;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function randomSuffix(): string {
  if (poolOffset >= pool.length) {
    pool = randomBytes(SUFFIX_BYTES * 1024);
    poolOffset = 0;
  }
  poolOffset += SUFFIX_BYTES;
  return pool.toString("hex", poolOffset - SUFFIX_BYTES, poolOffset);
}

/**
 * Ids that sort by time and, within one millisecond of one thread, by order of writing: lists read as they
 * happened, and a primary-key index grows at its end instead of taking random pages (the webhook's inbox writes
 * several thousand rows a second).
 */
export function sortableId(now: number): string {
  sequence = (sequence + 1) % 36 ** 4;
  return `${now.toString(36).padStart(9, "0")}${sequence.toString(36).padStart(4, "0")}${randomSuffix()}`;
}

/** The smallest id `sortableId` can produce at `at` or later: a range-scan bound on time-sorted ids. */
export function sortableIdFloor(at: number): string {
  return Math.max(0, Math.floor(at)).toString(36).padStart(9, "0");
}
