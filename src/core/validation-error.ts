import { RelayError } from "./errors.ts";

/** One rejected input field. `reason` describes the expected form and never repeats the value. */
export interface FieldProblem {
  /** The field's name as the client sent it (`tenantId`), or `body` when the body itself is unusable. */
  field: string;
  reason: string;
}

/**
 * Bad input, with every problem found rather than the first. The HTTP layer answers 400 and lists `problems`
 * as `error.fields`, so a form can mark every wrong field at once.
 */
export class ValidationError extends RelayError {
  declare readonly code: "ERR_VALIDATION";
  readonly problems: readonly FieldProblem[];

  /** `subject` names what was being validated, for the message: "org", "request". */
  constructor(problems: readonly FieldProblem[], subject = "request") {
    const noun = problems.length === 1 ? "problem" : "problems";
    const details = problems.map((p) => `${p.field}: ${p.reason}`).join("; ");
    super("ERR_VALIDATION", `Invalid ${subject} (${problems.length} ${noun}): ${details}`);
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ field: p.field, reason: p.reason })));
  }
}
