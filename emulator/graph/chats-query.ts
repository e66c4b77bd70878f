// Query rules of `GET /me/chats` (also `/chats`, `/users/{id}/chats`), per https://learn.microsoft.com/graph/api/chat-list:
// - `$top`: "Maximum allowed $top value is 50."
// - `$expand`: "Currently supports members and lastMessagePreview properties." The emulator does not model
//   members, so it answers 400 for them rather than pretend; `lastMessagePreview` appears only when expanded
//   (reference/graph-change-notifications.md §7.4), yet ordering by it works without the expand.
// - `$orderby`: "Currently supports lastMessagePreview/createdDateTime in descending order. Ascending order is
//   currently not supported."
// - Without `$orderby` the order is not documented; users observe most recently updated first
//   (https://learn.microsoft.com/answers/questions/559578), so the emulator sorts by lastUpdatedDateTime desc.
// - `$filter` ("Filters results") is not modelled and is ignored, as are other options.
// The default page size of 20 is an emulator choice; Learn does not state one.
import type { GraphChat } from "./graph-types.ts";
import {
  badRequest,
  buildNextLink,
  graphServiceRoot,
  pageDescending,
  parseTop,
  readQueryOptions,
  type GraphCollectionPage,
  type GraphQueryResult,
} from "./chat-messages-query.ts";

const DEFAULT_TOP = 20;
const MAX_TOP = 50;
const PREVIEW_ORDER = "lastMessagePreview/createdDateTime";

/**
 * Applies Graph's list-chats query rules to all chats of the signed-in user. `chats` may carry
 * `lastMessagePreview`; it is removed from the answer unless `$expand=lastMessagePreview` was asked for.
 * `baseUrl` is the absolute URL of the collection without its query, e.g. `https://127.0.0.1:8443/v1.0/me/chats`.
 */
export function queryChats(
  chats: readonly GraphChat[],
  query: URLSearchParams,
  baseUrl: string,
): GraphQueryResult<GraphChat> {
  const options = readQueryOptions(query);
  if (!options.ok) return options;

  const top = parseTop(options.values.get("$top"), DEFAULT_TOP, MAX_TOP);
  if (!top.ok) return top;

  let expandPreview = false;
  const rawExpand = options.values.get("$expand");
  if (rawExpand !== undefined) {
    for (const item of rawExpand.split(",").map((s) => s.trim())) {
      if (item === "lastMessagePreview") expandPreview = true;
      else return badRequest(`$expand '${item}' is not supported here; supported: lastMessagePreview.`);
    }
  }

  let byPreview = false;
  const rawOrderBy = options.values.get("$orderby");
  if (rawOrderBy !== undefined) {
    const parts = rawOrderBy.trim().split(/\s+/);
    if (parts.length !== 2 || parts[0] !== PREVIEW_ORDER || parts[1] !== "desc") {
      return badRequest(
        `Unsupported $orderby '${rawOrderBy}'. Supported: '${PREVIEW_ORDER} desc'; ascending order is not supported.`,
      );
    }
    byPreview = true;
  }

  const page = pageDescending(chats, {
    top: top.value,
    skipToken: options.values.get("$skiptoken"),
    scope: byPreview ? PREVIEW_ORDER : "lastUpdatedDateTime",
    // Chats without any message have no preview and sort last.
    key: byPreview
      ? (c) => (c.lastMessagePreview ? Date.parse(c.lastMessagePreview.createdDateTime) : Number.NaN)
      : (c) => Date.parse(c.lastUpdatedDateTime),
    id: (c) => c.id,
  });
  if (!page.ok) return page;

  const value = page.items.map((chat) => presentChat(chat, expandPreview));
  const root = graphServiceRoot(baseUrl);
  const body: GraphCollectionPage<GraphChat> = {
    "@odata.context": `${root}/$metadata#chats${expandPreview ? "(lastMessagePreview())" : ""}`,
    "@odata.count": value.length,
    value,
  };
  if (page.nextSkipToken !== undefined)
    body["@odata.nextLink"] = buildNextLink(baseUrl, query, page.nextSkipToken);
  return { ok: true, body };
}

function presentChat(chat: GraphChat, expandPreview: boolean): GraphChat {
  const { lastMessagePreview, ...rest } = chat;
  return expandPreview ? { ...rest, lastMessagePreview: lastMessagePreview ?? null } : rest;
}
