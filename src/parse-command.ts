import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { isRecord } from "./core/chat-message.ts";
import { detectEmergency } from "./core/detect-emergency.ts";
import { parseDetectionRuleInput } from "./core/detection-rule-input.ts";
import type { DetectionRule } from "./core/emergency.ts";

export const PARSE_USAGE = `Usage: teams-emergency-relay parse [--rules rules.json] < message.json

Reads one Teams chat message as JSON on stdin: a Graph chatMessage (GET /chats/{id}/messages/{id}) or a change
notification's decrypted resource data (the same shape). Applies the built-in rule, then the rules in
--rules (a JSON array of {name, kind: "phrase"|"pattern", value, marksTest?}, or {"rules": [...]}).

Exit status: 0 and the emergency as JSON on stdout; 3 and the reason on stderr when the message is not an
emergency call; 2 for unusable input (bad JSON, not a message, invalid rules).
`;

export interface ParseIo {
  stdin: AsyncIterable<Buffer | string>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** `teams-emergency-relay parse`: returns the exit status. */
export async function runParse(args: string[], io: ParseIo): Promise<number> {
  let rulesFile: string | undefined;
  try {
    const { values } = parseArgs({
      args,
      options: { rules: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      io.stdout.write(PARSE_USAGE);
      return 0;
    }
    rulesFile = values.rules;
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${PARSE_USAGE}`);
    return 2;
  }

  let rules: DetectionRule[] = [];
  if (rulesFile !== undefined) {
    const loaded = await loadRules(rulesFile);
    if (!loaded.ok) {
      io.stderr.write(`${loaded.error}\n`);
      return 2;
    }
    rules = loaded.rules;
  }

  let input: unknown;
  try {
    input = JSON.parse(await readAll(io.stdin));
  } catch (error) {
    // Node's message quotes part of the input; the position is enough to find the mistake.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    io.stderr.write(`stdin is not valid JSON${position ? ` (error at position ${position})` : ""}\n`);
    return 2;
  }
  if (!isRecord(input) || !isRecord(input.body)) {
    io.stderr.write(
      "stdin must be one Graph chatMessage object with a body ({ id, chatId, from, body: { contentType, content }, … })\n",
    );
    return 2;
  }

  const result = detectEmergency(input, rules);
  if (!result.emergency) {
    io.stderr.write(`not an emergency call: ${result.reason}\n`);
    return 3;
  }
  io.stdout.write(`${JSON.stringify({ ruleId: result.ruleId, ...result.value }, null, 2)}\n`);
  return 0;
}

async function loadRules(
  file: string,
): Promise<{ ok: true; rules: DetectionRule[] } | { ok: false; error: string }> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ok: false,
      error: code ? `cannot read --rules ${file}: ${code}` : `--rules ${file} is not valid JSON`,
    };
  }
  const list = Array.isArray(parsed)
    ? parsed
    : isRecord(parsed) && Array.isArray(parsed.rules)
      ? parsed.rules
      : undefined;
  if (list === undefined)
    return { ok: false, error: `--rules ${file} must be a JSON array of rules or {"rules": [...]}` };
  const rules: DetectionRule[] = [];
  const problems: string[] = [];
  list.forEach((entry: unknown, index: number) => {
    // Files exported from the API carry ids and times; only the rule's own fields are checked.
    const { id, createdAt: _c, updatedAt: _u, ...fields } = isRecord(entry) ? entry : { id: undefined };
    const result = parseDetectionRuleInput(isRecord(entry) ? fields : entry);
    if (!result.ok) {
      for (const p of result.problems) problems.push(`  rules[${index}].${p.field}: ${p.reason}`);
      return;
    }
    rules.push({ id: typeof id === "string" && id !== "" ? id : `rules[${index}]`, ...result.value });
  });
  if (problems.length > 0)
    return { ok: false, error: `--rules ${file} has invalid rules:\n${problems.join("\n")}` };
  return { ok: true, rules };
}

async function readAll(stream: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}
