import { DEFAULT_RULE_ID, type DetectionResult, type DetectionRule, type Emergency } from "./emergency.ts";

/**
 * One case of the detection corpus (test/fixtures/detection/*.json), and what a drill capture exports: the
 * message as Graph delivered it, the per-org rules it needs, and what detection must make of it. `expected`
 * lists only the fields to check; `html` and `text` are left out because they follow from the message.
 */
export interface DetectionFixture {
  description: string;
  rules?: DetectionRule[];
  message: Record<string, unknown>;
  expected: ExpectedDetection;
}

export type ExpectedDetection =
  { emergency: false } | ({ emergency: true; ruleId: string } & Partial<Omit<Emergency, "html" | "text">>);

/** The fixture that pins down today's result for `message`; the rule that detected it is included when it is an org's. */
export function toDetectionFixture(input: {
  description: string;
  message: Record<string, unknown>;
  result: DetectionResult;
  rules: readonly DetectionRule[];
}): DetectionFixture {
  const { result } = input;
  if (!result.emergency)
    return { description: input.description, message: input.message, expected: { emergency: false } };
  const { html: _html, text: _text, ...fields } = result.value;
  const rule = input.rules.find((r) => r.id === result.ruleId);
  return {
    description: input.description,
    ...(result.ruleId !== DEFAULT_RULE_ID && rule ? { rules: [{ ...rule }] } : {}),
    message: input.message,
    expected: { emergency: true, ruleId: result.ruleId, ...fields },
  };
}
