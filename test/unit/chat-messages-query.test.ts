import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { queryChatMessages, type GraphCollectionPage } from "../../emulator/graph/chat-messages-query.ts";
import type { GraphChatMessage } from "../../emulator/graph/graph-types.ts";

const CHAT_ID = "19:2da4c29f6d7041eca70b638b43d45437@thread.v2";
const BASE = `https://127.0.0.1:8443/v1.0/chats/${CHAT_ID}/messages`;
const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const MINUTE = 60_000;

function message(id: string, createdMin: number, modifiedMin = createdMin): GraphChatMessage {
  const created = new Date(T0 + createdMin * MINUTE).toISOString();
  return {
    id,
    replyToId: null,
    etag: id,
    messageType: "message",
    createdDateTime: created,
    lastModifiedDateTime: new Date(T0 + modifiedMin * MINUTE).toISOString(),
    lastEditedDateTime: null,
    deletedDateTime: null,
    subject: null,
    summary: null,
    chatId: CHAT_ID,
    importance: "normal",
    locale: "en-us",
    webUrl: null,
    channelIdentity: null,
    policyViolation: null,
    eventDetail: null,
    from: null,
    body: { contentType: "text", content: id },
    attachments: [],
    mentions: [],
    reactions: [],
  };
}

const at = (min: number) => new Date(T0 + min * MINUTE).toISOString();

function ok(result: ReturnType<typeof queryChatMessages>): GraphCollectionPage<GraphChatMessage> {
  assert.ok(result.ok, JSON.stringify(result));
  return result.body;
}

function run(messages: GraphChatMessage[], query: string) {
  return queryChatMessages(messages, new URLSearchParams(query), BASE);
}

function ids(query: string, messages: GraphChatMessage[]): string[] {
  return ok(run(messages, query)).value.map((m) => m.id);
}

function badRequest(result: ReturnType<typeof queryChatMessages>): string {
  assert.equal(result.ok, false);
  if (result.ok) throw new Error("unreachable");
  assert.equal(result.status, 400);
  assert.equal(result.error.code, "BadRequest");
  assert.ok(result.error.message.length > 0);
  return result.error.message;
}

// m1 created first but edited last; m3 newest by creation.
const edited = [message("m1", 0, 30), message("m2", 10), message("m3", 20)];

describe("queryChatMessages: $top", () => {
  const many = Array.from({ length: 60 }, (_, i) => message(`m${String(i).padStart(2, "0")}`, i));

  it("defaults to 20 and allows 50", () => {
    assert.equal(ok(run(many, "")).value.length, 20);
    assert.equal(ok(run(many, "$top=50")).value.length, 50);
    assert.equal(ok(run(many, "$top=1")).value.length, 1);
  });

  it("answers 400 above 50 and for nonsense", () => {
    assert.match(badRequest(run(many, "$top=51")), /51/);
    for (const top of ["0", "-1", "abc", "2.5", ""]) badRequest(run(many, `$top=${top}`));
  });

  it("treats option names case-insensitively and rejects duplicates", () => {
    assert.equal(ok(run(many, "$TOP=3")).value.length, 3);
    badRequest(run(many, "$top=3&$Top=4"));
  });
});

describe("queryChatMessages: $orderby", () => {
  it("defaults to lastModifiedDateTime desc", () => {
    assert.deepEqual(ids("", edited), ["m1", "m3", "m2"]);
  });

  it("orders by createdDateTime desc or lastModifiedDateTime desc", () => {
    assert.deepEqual(ids("$orderby=createdDateTime desc", edited), ["m3", "m2", "m1"]);
    assert.deepEqual(ids("$orderby=lastModifiedDateTime desc", edited), ["m1", "m3", "m2"]);
    assert.deepEqual(ids("$orderBy=createdDateTime%20desc", edited), ["m3", "m2", "m1"]);
  });

  it("answers 400 for ascending, implicit ascending, other properties and several keys", () => {
    for (const orderBy of [
      "createdDateTime asc",
      "lastModifiedDateTime asc",
      "createdDateTime",
      "id desc",
      "createdDateTime desc,id desc",
      "",
    ]) {
      badRequest(run(edited, `$orderby=${encodeURIComponent(orderBy)}`));
    }
  });
});

describe("queryChatMessages: $filter", () => {
  const messages = [message("a", 0), message("b", 10), message("c", 20), message("d", 30, 45)];

  it("applies lastModifiedDateTime gt/lt when $orderby names the same property", () => {
    const gt = `$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime gt ${at(10)}`;
    assert.deepEqual(ids(gt, messages), ["d", "c"]);
    const range = `$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime gt ${at(0)} and lastModifiedDateTime lt ${at(45)}`;
    assert.deepEqual(ids(range, messages), ["c", "b"]);
  });

  it("applies createdDateTime lt when $orderby names createdDateTime", () => {
    const q = `$orderby=createdDateTime desc&$filter=createdDateTime lt ${at(20)}`;
    assert.deepEqual(ids(q, messages), ["b", "a"]);
  });

  it("silently ignores the filter without $orderby, even though the default order is the same property", () => {
    assert.deepEqual(ids(`$filter=lastModifiedDateTime gt ${at(10)}`, messages), ["d", "c", "b", "a"]);
  });

  it("silently ignores the filter when $orderby names another property", () => {
    const q1 = `$orderby=createdDateTime desc&$filter=lastModifiedDateTime gt ${at(10)}`;
    assert.deepEqual(ids(q1, messages), ["d", "c", "b", "a"]);
    const q2 = `$orderby=lastModifiedDateTime desc&$filter=createdDateTime lt ${at(10)}`;
    assert.deepEqual(ids(q2, messages), ["d", "c", "b", "a"]);
  });

  it("answers 400 for createdDateTime gt and other unsupported filters", () => {
    badRequest(run(messages, `$orderby=createdDateTime desc&$filter=createdDateTime gt ${at(0)}`));
    badRequest(run(messages, `$orderby=lastModifiedDateTime desc&$filter=createdDateTime gt ${at(0)}`));
    badRequest(run(messages, `$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime eq ${at(0)}`));
    badRequest(run(messages, `$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime ge ${at(0)}`));
    badRequest(run(messages, `$orderby=lastModifiedDateTime desc&$filter=id eq 'a'`));
    badRequest(run(messages, `$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime gt yesterday`));
    badRequest(
      run(
        messages,
        `$orderby=lastModifiedDateTime desc&$filter=lastModifiedDateTime gt ${at(0)} or lastModifiedDateTime lt ${at(9)}`,
      ),
    );
    badRequest(
      run(
        messages,
        `$orderby=createdDateTime desc&$filter=createdDateTime lt ${at(9)} and lastModifiedDateTime gt ${at(0)}`,
      ),
    );
  });

  it("accepts offsets and seven fractional digits in literals", () => {
    const q = `$orderby=lastModifiedDateTime desc&$filter=${encodeURIComponent(`lastModifiedDateTime gt 2026-11-27T11:10:00.0000000+02:00`)}`;
    assert.deepEqual(ids(q, messages), ["d", "c"]);
  });
});

describe("queryChatMessages: paging", () => {
  const seventy = Array.from({ length: 70 }, (_, i) =>
    message(String(1_700_000_000_000 + i), Math.floor(i / 3)),
  );

  function follow(first: string, messages: GraphChatMessage[]) {
    const pages: GraphCollectionPage<GraphChatMessage>[] = [];
    let url: string | undefined = `${BASE}?${first}`;
    while (url !== undefined) {
      assert.ok(url.startsWith(`${BASE}?`), url);
      const page = ok(queryChatMessages(messages, new URL(url).searchParams, BASE));
      pages.push(page);
      url = page["@odata.nextLink"];
      assert.ok(pages.length < 10, "paging does not terminate");
    }
    return pages;
  }

  it("walks 3 pages with no duplicates or gaps, sharing timestamps across page borders", () => {
    const pages = follow("$top=25&$orderby=createdDateTime%20desc", seventy);
    assert.deepEqual(
      pages.map((p) => p.value.length),
      [25, 25, 20],
    );
    const seen = pages.flatMap((p) => p.value.map((m) => m.id));
    assert.equal(new Set(seen).size, 70);
    const expected = [...seventy]
      .sort((a, b) => Date.parse(b.createdDateTime) - Date.parse(a.createdDateTime) || (b.id > a.id ? 1 : -1))
      .map((m) => m.id);
    assert.deepEqual(seen, expected);
    assert.equal(pages[2]?.["@odata.nextLink"], undefined);
  });

  it("keeps the query in nextLink with literal $ and an opaque skiptoken", () => {
    const filter = `lastModifiedDateTime gt ${at(-1)}`;
    const page = ok(
      run(seventy, `$top=10&$orderby=lastModifiedDateTime desc&$filter=${encodeURIComponent(filter)}`),
    );
    const next = page["@odata.nextLink"];
    assert.ok(next !== undefined);
    assert.ok(next.startsWith(`${BASE}?$top=10&$orderby=lastModifiedDateTime%20desc&$filter=`), next);
    const params = new URL(next).searchParams;
    assert.equal(params.get("$filter"), filter);
    assert.match(params.get("$skiptoken") ?? "", /^[A-Za-z0-9_-]+$/);
  });

  it("neither duplicates nor skips when a new message arrives between pages", () => {
    const page1 = ok(run(seventy, "$top=25"));
    const later = [...seventy, message("9999999999999", 500)];
    const next = new URL(page1["@odata.nextLink"] ?? "").searchParams;
    const page2 = ok(queryChatMessages(later, next, BASE));
    assert.equal(
      page2.value[0]?.id,
      seventy
        .map((m) => m.id)
        .sort()
        .reverse()[25],
    );
  });

  it("answers 400 for a forged skiptoken or one from another ordering", () => {
    badRequest(run(seventy, "$skiptoken=not-a-token"));
    const byCreated = ok(run(seventy, "$top=5&$orderby=createdDateTime desc"));
    const token = new URL(byCreated["@odata.nextLink"] ?? "").searchParams.get("$skiptoken");
    badRequest(run(seventy, `$top=5&$orderby=lastModifiedDateTime desc&$skiptoken=${token}`));
  });

  it("returns an empty last page without a nextLink", () => {
    const page = ok(run([], ""));
    assert.deepEqual(page.value, []);
    assert.equal(page["@odata.nextLink"], undefined);
  });
});

describe("queryChatMessages: envelope", () => {
  it("names the chat in @odata.context like Graph and counts the page", () => {
    const page = ok(run(edited, "$top=2"));
    assert.equal(
      page["@odata.context"],
      "https://127.0.0.1:8443/v1.0/$metadata#chats('19%3A2da4c29f6d7041eca70b638b43d45437%40thread.v2')/messages",
    );
    assert.equal(page["@odata.count"], 2);
  });

  it("ignores unsupported OData options", () => {
    assert.deepEqual(ids("$select=id&$count=true", edited), ["m1", "m3", "m2"]);
  });
});
