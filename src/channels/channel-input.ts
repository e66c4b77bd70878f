// Shared pieces of the channels' `parse`: every problem is collected before anything is returned, reasons never
// repeat a value (several fields are credentials), and on update a field left out keeps its stored value.
import { ValidationError, type FieldProblem } from "../core/validation-error.ts";
import type { ChannelParseResult } from "./channel.ts";

export type Existing = { settings: Record<string, unknown>; secrets: Record<string, string> } | undefined;

export class ChannelInput {
  readonly fields: Record<string, unknown>;
  readonly problems: FieldProblem[] = [];
  readonly existing: Existing;

  constructor(input: unknown, known: readonly string[], existing: Existing) {
    this.existing = existing;
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      this.fields = {};
      this.problems.push({ field: "body", reason: "must be a JSON object" });
      return;
    }
    this.fields = input as Record<string, unknown>;
    for (const field of Object.keys(this.fields)) {
      if (!known.includes(field)) {
        this.problems.push({
          field,
          reason: `is not a setting of this channel (known: ${known.join(", ")})`,
        });
      }
    }
  }

  /** True when the client sent the field (even as null). */
  has(field: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.fields, field) && this.fields[field] !== undefined;
  }

  problem(field: string, reason: string): undefined {
    this.problems.push({ field, reason });
    return undefined;
  }

  /**
   * A required text field: the sent value when given, else the stored one on update. `check` returns a reason
   * when the (trimmed) value is unusable.
   */
  requiredText(
    field: string,
    stored: unknown,
    check: (value: string) => string | undefined,
  ): string | undefined {
    if (!this.has(field)) {
      if (typeof stored === "string") return stored;
      return this.problem(field, "is required");
    }
    return this.text(field, check);
  }

  /** An optional text field: `null` clears it; left out keeps `stored`. */
  optionalText(
    field: string,
    stored: unknown,
    check: (value: string) => string | undefined,
  ): string | undefined {
    if (!this.has(field)) return typeof stored === "string" ? stored : undefined;
    if (this.fields[field] === null) return undefined;
    return this.text(field, check);
  }

  text(field: string, check: (value: string) => string | undefined): string | undefined {
    const raw = this.fields[field];
    if (typeof raw !== "string" || raw.trim() === "")
      return this.problem(field, "must be a non-empty string");
    const value = raw.trim();
    if (/[\u0000-\u001f\u007f]/.test(value))
      return this.problem(field, "must not contain control characters");
    const reason = check(value);
    return reason === undefined ? value : this.problem(field, reason);
  }

  /** Throws the ValidationError listing every problem, or returns the result. */
  finish(result: ChannelParseResult): ChannelParseResult {
    // A body that is not an object makes every field "missing"; saying so once is the useful answer.
    const body = this.problems.filter((p) => p.field === "body" && !Object.hasOwn(this.fields, "body"));
    if (body.length > 0) throw new ValidationError(body, "channel");
    if (this.problems.length > 0) throw new ValidationError(this.problems, "channel");
    return result;
  }
}

/** A reason when the value is longer than `max`. */
export function maxLength(max: number): (value: string) => string | undefined {
  return (value) => (value.length > max ? `must be at most ${max} characters` : undefined);
}

/** `{ a: 1, b: undefined }` → `{ a: 1 }`, so cleared optional fields are not stored. */
export function defined<T extends Record<string, unknown>>(record: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** Like `defined`, for secrets. */
export function definedSecrets(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}
