import type { FastifyInstance } from "fastify";
import { isRecord, stringOf } from "../core/chat-message.ts";
import type { Clock } from "../core/clock.ts";
import { DEFAULT_RULE, detectEmergency } from "../core/detect-emergency.ts";
import { toDetectionFixture } from "../core/detection-fixture.ts";
import {
  MAX_RULES_PER_ORG,
  parseDetectionRuleInput,
  parseDetectionRulePatch,
  type DetectionRuleInput,
} from "../core/detection-rule-input.ts";
import { deriveDetectionPhrase } from "../core/derive-detection-phrase.ts";
import {
  DRILL_CAPTURE_RETENTION_MS,
  drillEnd,
  isDrillRunning,
  parseStartDrill,
  type Drill,
  type DrillCapture,
} from "../core/drill.ts";
import { DEFAULT_RULE_ID, type DetectionResult, type DetectionRule } from "../core/emergency.ts";
import { RelayError } from "../core/errors.ts";
import { htmlToText, plainTextLines } from "../core/html-to-text.ts";
import { ValidationError } from "../core/validation-error.ts";
import type { DetectionRuleStore, StoredDetectionRule } from "../storage/detection-rule-store.ts";
import type { DrillStore } from "../storage/drill-store.ts";
import { requireJsonBody } from "./org-routes.ts";
import type { AdminGuard } from "./admin-auth.ts";

export interface DetectionRoutesDeps {
  rules: DetectionRuleStore;
  drills: DrillStore;
  orgExists(orgId: string): Promise<boolean>;
  clock: Clock;
  requireAdmin: AdminGuard;
}

type OrgParams = { orgId: string };
type RuleParams = OrgParams & { ruleId: string };
type DrillParams = OrgParams & { drillId: string };
type CaptureParams = DrillParams & { captureId: string };

const BODY_LIMIT = 16 * 1024;
// A dry run carries a whole chat message (Teams caps those near 28 KB of HTML, plus the JSON around it).
const TEST_BODY_LIMIT = 256 * 1024;

/**
 * The admin API for detection: per-org rules (CRUD and a dry run) and drills with their captures. Every route is
 * admin-only. Expired drill captures are purged whenever drills are listed, read or started (a cheap path the
 * admin takes anyway) as well as by the daily sweep job.
 */
export function registerDetectionRoutes(app: FastifyInstance, deps: DetectionRoutesDeps): void {
  const { rules, drills, clock } = deps;
  const admin = { onRequest: deps.requireAdmin, bodyLimit: BODY_LIMIT };
  const adminWithBody = { ...admin, preValidation: requireJsonBody };

  const requireOrg = async (orgId: string) => {
    if (!(await deps.orgExists(orgId))) throw new RelayError("ERR_NOT_FOUND", `Org ${orgId} not found`);
  };
  const purge = () => drills.purgeCapturesEndedBefore(clock.now() - DRILL_CAPTURE_RETENTION_MS, clock.now());

  // --- Detection rules ---

  app.get<{ Params: OrgParams }>("/api/org/:orgId/detection-rules", admin, async (request) => {
    await requireOrg(request.params.orgId);
    return {
      defaultRule: { ...DEFAULT_RULE, marksTest: false, builtIn: true },
      rules: (await rules.list(request.params.orgId)).map(ruleView),
    };
  });

  app.post<{ Params: OrgParams }>(
    "/api/org/:orgId/detection-rules",
    adminWithBody,
    async (request, reply) => {
      const { orgId } = request.params;
      await requireOrg(orgId);
      const parsed = parseDetectionRuleInput(request.body);
      if (!parsed.ok) throw new ValidationError(parsed.problems, "detection rule");
      const rule = await createRule(orgId, parsed.value);
      request.log.info({ orgId, ruleId: rule.id }, "detection rule created");
      return reply.code(201).send(ruleView(rule));
    },
  );

  app.post<{ Params: OrgParams }>(
    "/api/org/:orgId/detection-rules/test",
    { ...adminWithBody, bodyLimit: TEST_BODY_LIMIT },
    async (request) => {
      const { orgId } = request.params;
      await requireOrg(orgId);
      const { message, candidate } = parseTestBody(request.body);
      const orgRules = await rules.list(orgId);
      const all: DetectionRule[] = candidate ? [...orgRules, candidate] : orgRules;
      const result = detectEmergency(message, all);
      return { ...result, text: plainTextOf(message) };
    },
  );

  app.patch<{ Params: RuleParams }>(
    "/api/org/:orgId/detection-rules/:ruleId",
    adminWithBody,
    async (request) => {
      const { orgId, ruleId } = request.params;
      await requireOrg(orgId);
      if (ruleId === DEFAULT_RULE_ID) throw builtInRule();
      const current = await rules.get(orgId, ruleId);
      if (current === undefined) throw ruleNotFound(ruleId);
      const parsed = parseDetectionRulePatch(request.body, inputOf(current));
      if (!parsed.ok) throw new ValidationError(parsed.problems, "detection rule");
      const updated = await rules.update(orgId, ruleId, parsed.value, clock.now());
      if (updated === undefined) throw ruleNotFound(ruleId);
      request.log.info({ orgId, ruleId }, "detection rule updated");
      return ruleView(updated);
    },
  );

  app.delete<{ Params: RuleParams }>(
    "/api/org/:orgId/detection-rules/:ruleId",
    admin,
    async (request, reply) => {
      const { orgId, ruleId } = request.params;
      await requireOrg(orgId);
      if (ruleId === DEFAULT_RULE_ID) throw builtInRule();
      if (!(await rules.delete(orgId, ruleId))) throw ruleNotFound(ruleId);
      request.log.info({ orgId, ruleId }, "detection rule deleted");
      return reply.code(204).send();
    },
  );

  // --- Drills ---

  app.post<{ Params: OrgParams }>("/api/org/:orgId/drills", adminWithBody, async (request, reply) => {
    const { orgId } = request.params;
    await requireOrg(orgId);
    const parsed = parseStartDrill(request.body);
    if (!parsed.ok) throw new ValidationError(parsed.problems, "drill");
    await purge();
    const drill = await drills.start(orgId, parsed.value.durationMs, clock.now());
    request.log.info({ orgId, drillId: drill.id }, "drill started");
    return reply.code(201).send({ ...drillView(drill, clock.now()), captureCount: 0 });
  });

  app.get<{ Params: OrgParams }>("/api/org/:orgId/drills", admin, async (request) => {
    await requireOrg(request.params.orgId);
    await purge();
    const list = await drills.list(request.params.orgId);
    return { drills: list.map((d) => ({ ...drillView(d, clock.now()), captureCount: d.captureCount })) };
  });

  app.get<{ Params: DrillParams }>("/api/org/:orgId/drills/:drillId", admin, async (request) => {
    const drill = await findDrill(request.params);
    await purge();
    const captures = await drills.listCaptures(drill.id);
    return {
      ...drillView((await drills.get(drill.orgId, drill.id)) ?? drill, clock.now()),
      captureCount: captures.length,
      captures: captures.map(captureView),
    };
  });

  app.post<{ Params: DrillParams }>("/api/org/:orgId/drills/:drillId/end", adminWithBody, async (request) => {
    const drill = await findDrill(request.params);
    const ended = (await drills.end(drill.orgId, drill.id, clock.now())) ?? drill;
    request.log.info({ orgId: drill.orgId, drillId: drill.id }, "drill ended");
    return drillView(ended, clock.now());
  });

  app.post<{ Params: CaptureParams }>(
    "/api/org/:orgId/drills/:drillId/captures/:captureId/fixture",
    adminWithBody,
    async (request) => {
      const { capture } = await findCapture(request.params);
      const body = isRecord(request.body) ? request.body : {};
      const description =
        typeof body.description === "string" && body.description.trim() !== ""
          ? body.description.trim().slice(0, 500)
          : `Captured during drill ${capture.drillId} at ${new Date(capture.capturedAt).toISOString()}`;
      return toDetectionFixture({
        description,
        message: capture.message,
        result: capture.result,
        rules: await rules.list(capture.orgId),
      });
    },
  );

  app.post<{ Params: CaptureParams }>(
    "/api/org/:orgId/drills/:drillId/captures/:captureId/rule",
    adminWithBody,
    async (request, reply) => {
      const { capture } = await findCapture(request.params);
      const body = request.body === undefined || request.body === null ? {} : request.body;
      const input = ruleInputFromCapture(body, capture);
      const rule = await createRule(capture.orgId, input);
      request.log.info(
        { orgId: capture.orgId, ruleId: rule.id, captureId: capture.id },
        "detection rule created",
      );
      // What the capture makes of the rules now: the admin sees at once whether the new rule catches it.
      const result = detectEmergency(capture.message, await rules.list(capture.orgId));
      return reply.code(201).send({ rule: ruleView(rule), detection: resultView(result) });
    },
  );

  async function createRule(orgId: string, input: DetectionRuleInput): Promise<StoredDetectionRule> {
    if ((await rules.count(orgId)) >= MAX_RULES_PER_ORG)
      throw new RelayError(
        "ERR_CONFLICT",
        `The org has ${MAX_RULES_PER_ORG} detection rules, the most it may have; delete one first`,
      );
    return rules.create(orgId, input, clock.now());
  }

  async function findDrill(params: DrillParams): Promise<Drill> {
    await requireOrg(params.orgId);
    const drill = await drills.get(params.orgId, params.drillId);
    if (drill === undefined) throw new RelayError("ERR_NOT_FOUND", `Drill ${params.drillId} not found`);
    return drill;
  }

  async function findCapture(params: CaptureParams): Promise<{ drill: Drill; capture: DrillCapture }> {
    const drill = await findDrill(params);
    const capture = await drills.getCapture(drill.id, params.captureId);
    if (capture === undefined) throw new RelayError("ERR_NOT_FOUND", `Capture ${params.captureId} not found`);
    return { drill, capture };
  }
}

/** `{name?, kind?, value?, marksTest?}`: with kind and value as given, otherwise a phrase derived from the capture. */
function ruleInputFromCapture(body: unknown, capture: DrillCapture): DetectionRuleInput {
  if (!isRecord(body))
    throw new ValidationError([{ field: "body", reason: "must be a JSON object" }], "detection rule");
  const fields: Record<string, unknown> = {
    name: body.name ?? `From drill capture ${new Date(capture.capturedAt).toISOString()}`,
    ...body,
  };
  if (body.kind === undefined && body.value === undefined) {
    const derived = deriveDetectionPhrase(capture.message);
    if (!derived.ok)
      throw new ValidationError([{ field: "value", reason: derived.reason }], "detection rule");
    fields.kind = "phrase";
    fields.value = derived.phrase;
  }
  const parsed = parseDetectionRuleInput(fields);
  if (!parsed.ok) throw new ValidationError(parsed.problems, "detection rule");
  return parsed.value;
}

/** `{ message }` (a Graph chatMessage), or `{ html }` / `{ text }`, plus an optional candidate `rule`. */
function parseTestBody(body: unknown): { message: Record<string, unknown>; candidate?: DetectionRule } {
  if (!isRecord(body))
    throw new ValidationError([{ field: "body", reason: "must be a JSON object" }], "request");
  const problems: Array<{ field: string; reason: string }> = [];
  for (const field of Object.keys(body))
    if (!["message", "html", "text", "rule"].includes(field))
      problems.push({ field, reason: "is not a known field (expected message, html, text, rule)" });
  const given = ["message", "html", "text"].filter((f) => body[f] !== undefined);
  let message: Record<string, unknown> = {};
  if (given.length !== 1) {
    problems.push({ field: "body", reason: "must have exactly one of message, html or text" });
  } else if (given[0] === "message") {
    if (isRecord(body.message)) message = body.message;
    else problems.push({ field: "message", reason: "must be a Graph chatMessage object" });
  } else {
    const field = given[0]!;
    if (typeof body[field] !== "string") problems.push({ field, reason: "must be a string" });
    else
      message = {
        id: "dry-run",
        chatId: "dry-run",
        messageType: "message",
        body: { contentType: field === "html" ? "html" : "text", content: body[field] },
      };
  }
  let candidate: DetectionRule | undefined;
  if (body.rule !== undefined) {
    const parsed = parseDetectionRuleInput(
      isRecord(body.rule) ? { name: "candidate", ...body.rule } : body.rule,
    );
    if (!parsed.ok)
      problems.push(...parsed.problems.map((p) => ({ field: `rule.${p.field}`, reason: p.reason })));
    else candidate = { id: "candidate", ...parsed.value };
  }
  if (problems.length > 0) throw new ValidationError(problems, "request");
  return { message, ...(candidate ? { candidate } : {}) };
}

function plainTextOf(message: Record<string, unknown>): string {
  const body = isRecord(message.body) ? message.body : undefined;
  if (!body || typeof body.content !== "string") return "";
  return String(body.contentType ?? "html").toLowerCase() === "text"
    ? plainTextLines(body.content)
    : htmlToText(body.content, { quotes: "keep" });
}

function ruleView(rule: StoredDetectionRule) {
  return {
    id: rule.id,
    name: rule.name,
    kind: rule.kind,
    value: rule.value,
    marksTest: rule.marksTest,
    createdAt: iso(rule.createdAt),
    updatedAt: iso(rule.updatedAt),
  };
}

function inputOf(rule: StoredDetectionRule): DetectionRuleInput {
  return { name: rule.name, kind: rule.kind, value: rule.value, marksTest: rule.marksTest };
}

function drillView(drill: Drill, now: number) {
  return {
    id: drill.id,
    orgId: drill.orgId,
    state: isDrillRunning(drill, now) ? "running" : "ended",
    startedAt: iso(drill.startedAt),
    endsAt: iso(drillEnd(drill)),
    endedEarly: drill.endedAt !== null && drill.endedAt < drill.endsAt,
    capturesPurgedAt: drill.capturesPurgedAt === null ? null : iso(drill.capturesPurgedAt),
    capturesDeleteAt: iso(drillEnd(drill) + DRILL_CAPTURE_RETENTION_MS),
  };
}

/** A capture raw (HTML and text) and as detected, field by field. */
function captureView(capture: DrillCapture) {
  const { message } = capture;
  const body = isRecord(message.body) ? message.body : {};
  const from = isRecord(message.from) && isRecord(message.from.user) ? message.from.user : undefined;
  return {
    id: capture.id,
    capturedAt: iso(capture.capturedAt),
    chatId: capture.chatId,
    messageId: capture.messageId,
    messageType: stringOf(message, "messageType") ?? null,
    importance: stringOf(message, "importance") ?? null,
    sender: from
      ? { id: stringOf(from, "id") ?? null, displayName: stringOf(from, "displayName") ?? null }
      : null,
    contentType: stringOf(body, "contentType") ?? null,
    html: typeof body.content === "string" ? body.content : null,
    text: plainTextOf(message),
    ...resultView(capture.result),
  };
}

function resultView(result: DetectionResult) {
  if (!result.emergency) return { detected: false, ruleId: null, reason: result.reason, emergency: null };
  const { html: _html, text: _text, ...fields } = result.value;
  return { detected: true, ruleId: result.ruleId, reason: null, emergency: fields };
}

function ruleNotFound(ruleId: string): RelayError {
  return new RelayError("ERR_NOT_FOUND", `Detection rule ${ruleId} not found`);
}

function builtInRule(): RelayError {
  return new RelayError(
    "ERR_CONFLICT",
    "The built-in rule cannot be changed or deleted; add an org rule for other formats instead",
  );
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
