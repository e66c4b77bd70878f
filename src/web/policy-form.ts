import { MAX_TIERS } from "../core/alert-policy-input.ts";
import type { AlertPolicy } from "../core/alert-policy.ts";

export interface TierValues {
  afterSeconds: string;
  channelIds: string[];
  repeatEverySeconds: string;
  repeatTimes: string;
}

/** The policy form's fields as typed (strings), so a form with a problem comes back as it was. */
export interface PolicyFormValues {
  name: string;
  kind: string;
  callType: string;
  /** "" for no location match. */
  matchType: string;
  matchField: string;
  matchValue: string;
  priority: string;
  enabled: boolean;
  retryMaxAttempts: string;
  retryWindowSeconds: string;
  tiers: TierValues[];
}

export type PolicyFormAction =
  { kind: "save" } | { kind: "add-tier" } | { kind: "remove-tier"; index: number };

/** Input names: the admin API's field paths, so its problems (`tiers[1].afterSeconds`) name the inputs. */
export const tierField = (index: number, name: string) => `tiers[${index}].${name}`;
export const tierChannelField = (index: number, channelId: string) => `tiers[${index}].channel.${channelId}`;

export function policyFormFromPolicy(policy: AlertPolicy | undefined): PolicyFormValues {
  return {
    name: policy?.name ?? "",
    kind: policy?.kind ?? "emergency",
    callType: policy?.callType ?? "real",
    matchType: policy?.locationMatch?.type ?? "",
    matchField: policy?.locationMatch?.field ?? "any",
    matchValue: policy?.locationMatch?.value ?? "",
    priority: String(policy?.priority ?? 100),
    enabled: policy?.enabled ?? true,
    retryMaxAttempts: policy?.retry ? String(policy.retry.maxAttempts) : "",
    retryWindowSeconds: policy?.retry ? String(policy.retry.windowSeconds) : "",
    tiers: (policy?.tiers ?? [{ afterSeconds: 0, channelIds: [], repeat: null }]).map((t) => ({
      afterSeconds: String(t.afterSeconds),
      channelIds: [...t.channelIds],
      repeatEverySeconds: t.repeat ? String(t.repeat.everySeconds) : "",
      repeatTimes: t.repeat ? String(t.repeat.times) : "",
    })),
  };
}

/** The posted form; `channelIds` are the org's channels, in the order the form lists them. */
export function policyFormFromRequest(
  form: Record<string, string>,
  channelIds: readonly string[],
): PolicyFormValues {
  const count = Math.min(MAX_TIERS, Math.max(1, Number.parseInt(form.tierCount ?? "1", 10) || 1));
  const text = (name: string) => form[name] ?? "";
  return {
    name: text("name"),
    kind: text("kind") || "emergency",
    callType: text("callType") || "real",
    matchType: text("locationMatch.type"),
    matchField: text("locationMatch.field") || "any",
    matchValue: text("locationMatch.value"),
    priority: text("priority"),
    enabled: form.enabled === "on",
    retryMaxAttempts: text("retry.maxAttempts"),
    retryWindowSeconds: text("retry.windowSeconds"),
    tiers: Array.from({ length: count }, (_, i) => ({
      afterSeconds: i === 0 ? "0" : text(tierField(i, "afterSeconds")),
      channelIds: channelIds.filter((id) => form[tierChannelField(i, id)] === "on"),
      repeatEverySeconds: text(tierField(i, "repeat.everySeconds")),
      repeatTimes: text(tierField(i, "repeat.times")),
    })),
  };
}

/** Which button was pressed: the add/remove tier buttons re-show the form instead of saving. */
export function policyFormAction(form: Record<string, string>): PolicyFormAction {
  const action = form.action ?? "save";
  if (action === "add-tier") return { kind: "add-tier" };
  const remove = /^remove-tier-(\d{1,2})$/.exec(action);
  if (remove) return { kind: "remove-tier", index: Number(remove[1]) };
  return { kind: "save" };
}

export function withTierAdded(values: PolicyFormValues): PolicyFormValues {
  if (values.tiers.length >= MAX_TIERS) return values;
  const last = values.tiers[values.tiers.length - 1];
  const after = Number(last?.afterSeconds);
  const next = Number.isFinite(after) ? String(after + 120) : "";
  return {
    ...values,
    tiers: [...values.tiers, { afterSeconds: next, channelIds: [], repeatEverySeconds: "", repeatTimes: "" }],
  };
}

export function withTierRemoved(values: PolicyFormValues, index: number): PolicyFormValues {
  if (values.tiers.length <= 1 || index < 0 || index >= values.tiers.length) return values;
  const tiers = values.tiers.filter((_, i) => i !== index);
  tiers[0] = { ...tiers[0]!, afterSeconds: "0" };
  return { ...values, tiers };
}

/**
 * The form as the admin API's policy body (core/alert-policy-input.ts checks it): numbers typed as digits
 * become numbers, anything else stays text for the parser to name. An operations policy takes any call and no
 * location match, as the API requires.
 */
export function policyBodyFromForm(values: PolicyFormValues): Record<string, unknown> {
  const operations = values.kind === "operations";
  const number = (raw: string) => (/^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : raw);
  const bothBlank = (a: string, b: string) => a.trim() === "" && b.trim() === "";
  return {
    name: values.name,
    kind: values.kind,
    callType: operations ? "any" : values.callType,
    locationMatch:
      operations || values.matchType === ""
        ? null
        : { field: values.matchField, type: values.matchType, value: values.matchValue },
    ...(values.priority.trim() === "" ? {} : { priority: number(values.priority) }),
    enabled: values.enabled,
    retry: bothBlank(values.retryMaxAttempts, values.retryWindowSeconds)
      ? null
      : { maxAttempts: number(values.retryMaxAttempts), windowSeconds: number(values.retryWindowSeconds) },
    tiers: values.tiers.map((t, i) => ({
      afterSeconds: i === 0 ? 0 : number(t.afterSeconds),
      channelIds: t.channelIds,
      repeat: bothBlank(t.repeatEverySeconds, t.repeatTimes)
        ? null
        : { everySeconds: number(t.repeatEverySeconds), times: number(t.repeatTimes) },
    })),
  };
}

/** The input a problem of the API's policy parser belongs to (its error summary links there). */
export function policyProblemAnchor(field: string): string {
  const tier = /^tiers\[(\d+)\]\.(afterSeconds|channelIds|repeat)/.exec(field);
  if (tier) {
    const [, index, part] = tier;
    if (part === "channelIds") return tierField(Number(index), "channelIds");
    if (part === "repeat")
      return tierField(Number(index), field.endsWith(".times") ? "repeat.times" : "repeat.everySeconds");
    return tierField(Number(index), "afterSeconds");
  }
  if (/^tiers(\[\d+\])?$/.test(field)) return tierField(0, "channelIds");
  if (field.startsWith("locationMatch")) return field === "locationMatch" ? "locationMatch.type" : field;
  if (field.startsWith("retry")) return field === "retry" ? "retry.maxAttempts" : field;
  return field;
}
