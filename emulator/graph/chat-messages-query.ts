// Query rules of `GET /chats/{chat-id}/messages` (also `/me/chats/{chat-id}/messages`), per
// https://learn.microsoft.com/graph/api/chat-list-messages:
// - `$top`: "Maximum allowed `$top` value is 50."
// - `$orderby`: "lastModifiedDateTime (default) and createdDateTime properties in descending order. The ascending
//   order is currently not supported."
// - `$filter`: "lastModifiedDateTime property supports the gt and lt operators. The createdDateTime property
//   supports the lt operator. You can only filter results if the request URL contains the $orderby and $filter
//   query parameters configured for the same property; otherwise, the $filter query option is ignored."
// - "The other OData query parameters are not currently supported": they are ignored here (and carried into
//   `@odata.nextLink`), since what Graph answers to them is not documented.
// The default page size of 20 is an emulator choice; Learn does not state one.
import type { GraphChatMessage } from "./graph-types.ts";

export interface GraphErrorBody {
  code: string;
  message: string;
}

export interface GraphCollectionPage<T> {
  "@odata.context": string;
  "@odata.count"?: number;
  "@odata.nextLink"?: string;
  value: T[];
}

export type GraphQueryResult<T> =
  { ok: true; body: GraphCollectionPage<T> } | { ok: false; status: number; error: GraphErrorBody };

type MessageDateProperty = "lastModifiedDateTime" | "createdDateTime";

const DEFAULT_TOP = 20;
const MAX_TOP = 50;
const SUPPORTED_OPERATORS: Record<MessageDateProperty, readonly string[]> = {
  lastModifiedDateTime: ["gt", "lt"],
  createdDateTime: ["lt"],
};

/**
 * Applies Graph's list-messages query rules to all messages of one chat.
 * `baseUrl` is the absolute URL of the collection without its query, e.g.
 * `https://127.0.0.1:8443/v1.0/chats/19:abc@thread.v2/messages`; `@odata.nextLink` is built on it.
 */
export function queryChatMessages(
  messages: readonly GraphChatMessage[],
  query: URLSearchParams,
  baseUrl: string,
): GraphQueryResult<GraphChatMessage> {
  const options = readQueryOptions(query);
  if (!options.ok) return options;

  const top = parseTop(options.values.get("$top"), DEFAULT_TOP, MAX_TOP);
  if (!top.ok) return top;

  const rawOrderBy = options.values.get("$orderby");
  let orderBy: MessageDateProperty = "lastModifiedDateTime";
  if (rawOrderBy !== undefined) {
    const parsed = parseOrderBy(rawOrderBy);
    if (!parsed.ok) return parsed;
    orderBy = parsed.property;
  }

  let filtered = messages;
  const rawFilter = options.values.get("$filter");
  if (rawFilter !== undefined) {
    // Validated even when it is going to be ignored, so a malformed filter never passes silently.
    const filter = parseFilter(rawFilter);
    if (!filter.ok) return filter;
    if (rawOrderBy !== undefined && filter.property === orderBy) {
      filtered = messages.filter((m) => filter.clauses.every((c) => c.test(Date.parse(m[filter.property]))));
    }
  }

  const page = pageDescending(filtered, {
    top: top.value,
    skipToken: options.values.get("$skiptoken"),
    scope: orderBy,
    key: (m) => Date.parse(m[orderBy]),
    id: (m) => m.id,
  });
  if (!page.ok) return page;

  const root = graphServiceRoot(baseUrl);
  const body: GraphCollectionPage<GraphChatMessage> = {
    "@odata.context": `${root}/$metadata#chats('${encodeURIComponent(chatIdOf(baseUrl))}')/messages`,
    "@odata.count": page.items.length,
    value: page.items,
  };
  if (page.nextSkipToken !== undefined)
    body["@odata.nextLink"] = buildNextLink(baseUrl, query, page.nextSkipToken);
  return { ok: true, body };
}

function parseOrderBy(raw: string): { ok: true; property: MessageDateProperty } | BadRequest {
  const parts = raw.trim().split(/\s+/);
  const [property, direction] = parts;
  if (
    parts.length !== 2 ||
    (property !== "lastModifiedDateTime" && property !== "createdDateTime") ||
    direction !== "desc"
  ) {
    return badRequest(
      `Unsupported $orderby '${raw}'. Supported: 'lastModifiedDateTime desc' or 'createdDateTime desc'; ascending order is not supported.`,
    );
  }
  return { ok: true, property };
}

interface FilterClause {
  test(value: number): boolean;
}

function parseFilter(
  raw: string,
): { ok: true; property: MessageDateProperty; clauses: FilterClause[] } | BadRequest {
  const clauses: FilterClause[] = [];
  let property: MessageDateProperty | undefined;
  for (const text of raw.trim().split(/\s+and\s+/)) {
    const match = /^(\w+)\s+(\w+)\s+(\S+)$/.exec(text.trim());
    if (match === null) return badRequest(`Invalid $filter clause '${text}'.`);
    const [, name = "", operator = "", literal = ""] = match;
    if (name !== "lastModifiedDateTime" && name !== "createdDateTime") {
      return badRequest(
        `$filter on '${name}' is not supported; use lastModifiedDateTime or createdDateTime.`,
      );
    }
    if (!SUPPORTED_OPERATORS[name].includes(operator)) {
      return badRequest(
        `Operator '${operator}' is not supported on ${name}; supported: ${SUPPORTED_OPERATORS[name].join(", ")}.`,
      );
    }
    if (property !== undefined && property !== name) {
      return badRequest("A $filter may name only one property.");
    }
    property = name;
    const bound = parseDateTimeLiteral(literal);
    if (bound === undefined) return badRequest(`Invalid DateTimeOffset literal '${literal}' in $filter.`);
    clauses.push({ test: operator === "gt" ? (v) => v > bound : (v) => v < bound });
  }
  if (property === undefined) return badRequest("Empty $filter.");
  return { ok: true, property, clauses };
}

function parseDateTimeLiteral(literal: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/.test(literal))
    return undefined;
  const ms = Date.parse(literal);
  return Number.isNaN(ms) ? undefined : ms;
}

function chatIdOf(baseUrl: string): string {
  const segments = new URL(baseUrl).pathname.split("/").filter((s) => s !== "");
  const chatSegment = segments.at(-2) ?? "";
  return decodeURIComponent(chatSegment);
}

// ---- shared by the Graph collection queries of the emulator (chats-query.ts uses these) ----

export type BadRequest = { ok: false; status: 400; error: GraphErrorBody };

export function badRequest(message: string): BadRequest {
  return { ok: false, status: 400, error: { code: "BadRequest", message } };
}

/** System query options by lower-cased name: OData option names are case-insensitive (Learn writes `$orderBy`). */
export function readQueryOptions(
  query: URLSearchParams,
): { ok: true; values: Map<string, string> } | BadRequest {
  const values = new Map<string, string>();
  for (const [name, value] of query) {
    if (!name.startsWith("$")) continue;
    const key = name.toLowerCase();
    if (values.has(key)) return badRequest(`Query option '${name}' was specified more than once.`);
    values.set(key, value);
  }
  return { ok: true, values };
}

export function parseTop(
  raw: string | undefined,
  defaultTop: number,
  maxTop: number,
): { ok: true; value: number } | BadRequest {
  if (raw === undefined) return { ok: true, value: defaultTop };
  const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > maxTop) {
    return badRequest(`Invalid page size specified: '${raw}'. Must be between 1 and ${maxTop} inclusive.`);
  }
  return { ok: true, value };
}

interface SkipToken {
  /** What the order key means; a token from another ordering is rejected instead of skipping wrongly. */
  s: string;
  /** Order key of the last item served; null stands for "no value", which sorts last. */
  k: number | null;
  /** Id of the last item served, the tie breaker. */
  i: string;
}

/**
 * Keyset paging over a descending order (key, then id): the token names the last item served, so items
 * added at the head between pages cause neither duplicates nor gaps. Graph's own tokens end with the last
 * message's id (the example token on the list-messages page decodes to `…|1616964509832`).
 */
export function pageDescending<T>(
  items: readonly T[],
  options: {
    top: number;
    skipToken: string | undefined;
    scope: string;
    key: (item: T) => number;
    id: (item: T) => string;
  },
): { ok: true; items: T[]; nextSkipToken?: string } | BadRequest {
  const keyed = items.map((item) => ({ item, key: normalizeKey(options.key(item)), id: options.id(item) }));
  keyed.sort((a, b) => compareDescending(a.key, a.id, b.key, b.id));

  let start = 0;
  if (options.skipToken !== undefined) {
    const token = decodeSkipToken(options.skipToken);
    if (token === undefined || token.s !== options.scope) return badRequest("Invalid $skiptoken.");
    const cursorKey = token.k ?? Number.NEGATIVE_INFINITY;
    start = keyed.findIndex((e) => compareDescending(cursorKey, token.i, e.key, e.id) < 0);
    if (start === -1) start = keyed.length;
  }

  const slice = keyed.slice(start, start + options.top);
  const last = slice.at(-1);
  const result: { ok: true; items: T[]; nextSkipToken?: string } = {
    ok: true,
    items: slice.map((e) => e.item),
  };
  if (last !== undefined && start + slice.length < keyed.length) {
    result.nextSkipToken = encodeSkipToken({
      s: options.scope,
      k: Number.isFinite(last.key) ? last.key : null,
      i: last.id,
    });
  }
  return result;
}

function normalizeKey(key: number): number {
  return Number.isNaN(key) ? Number.NEGATIVE_INFINITY : key;
}

/** Negative when (aKey, aId) comes first in descending order. */
function compareDescending(aKey: number, aId: string, bKey: number, bId: string): number {
  if (aKey !== bKey) return aKey > bKey ? -1 : 1;
  if (aId === bId) return 0;
  return aId > bId ? -1 : 1;
}

function encodeSkipToken(token: SkipToken): string {
  return Buffer.from(JSON.stringify(token), "utf8").toString("base64url");
}

function decodeSkipToken(raw: string): SkipToken | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { s, k, i } = parsed as Record<string, unknown>;
    if (typeof s !== "string" || typeof i !== "string") return undefined;
    if (k !== null && (typeof k !== "number" || !Number.isFinite(k))) return undefined;
    return { s, k, i };
  } catch {
    return undefined;
  }
}

/** The request's own query with `$skiptoken` replaced; `$` stays literal, as in Graph's nextLinks. */
export function buildNextLink(baseUrl: string, query: URLSearchParams, skipToken: string): string {
  const parts: string[] = [];
  for (const [name, value] of query) {
    if (name.toLowerCase() === "$skiptoken") continue;
    parts.push(`${encodeQueryComponent(name)}=${encodeQueryComponent(value)}`);
  }
  parts.push(`$skiptoken=${encodeQueryComponent(skipToken)}`);
  return `${baseUrl}?${parts.join("&")}`;
}

function encodeQueryComponent(text: string): string {
  return encodeURIComponent(text).replace(/%24/g, "$");
}

/** `https://host/v1.0/...` -> `https://host/v1.0`; the origin when the URL has no version segment. */
export function graphServiceRoot(baseUrl: string): string {
  const url = new URL(baseUrl);
  const segments = url.pathname.split("/").filter((s) => s !== "");
  const version = segments.findIndex((s) => s === "v1.0" || s === "beta");
  return version === -1 ? url.origin : `${url.origin}/${segments.slice(0, version + 1).join("/")}`;
}
