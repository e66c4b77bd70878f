import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GraphCollectionPage } from "../../emulator/graph/chat-messages-query.ts";
import { queryChats } from "../../emulator/graph/chats-query.ts";
import type { GraphChat } from "../../emulator/graph/graph-types.ts";

const BASE = "https://127.0.0.1:8443/v1.0/me/chats";
const T0 = Date.parse("2026-11-27T09:00:00.000Z");
const at = (min: number) => new Date(T0 + min * 60_000).toISOString();

function chat(id: string, updatedMin: number, previewMin?: number): GraphChat {
  return {
    id,
    topic: null,
    createdDateTime: at(-1000),
    lastUpdatedDateTime: at(updatedMin),
    chatType: "group",
    webUrl: `https://teams.microsoft.com/l/chat/${encodeURIComponent(id)}/0`,
    tenantId: "00000000-0000-0000-0000-000000000001",
    onlineMeetingInfo: null,
    lastMessagePreview:
      previewMin === undefined
        ? null
        : {
            id: String(T0 + previewMin * 60_000),
            createdDateTime: at(previewMin),
            isDeleted: false,
            messageType: "message",
            body: { contentType: "text", content: "hello" },
            from: null,
          },
  };
}

// b was renamed most recently (lastUpdated) but a has the newest message; c never had a message.
const chats = [chat("19:a@thread.v2", 10, 9), chat("19:b@thread.v2", 20, 1), chat("19:c@thread.v2", 5)];

function ok(result: ReturnType<typeof queryChats>): GraphCollectionPage<GraphChat> {
  assert.ok(result.ok, JSON.stringify(result));
  return result.body;
}

function run(query: string, input: GraphChat[] = chats) {
  return queryChats(input, new URLSearchParams(query), BASE);
}

function badRequest(result: ReturnType<typeof queryChats>): void {
  assert.equal(result.ok, false);
  if (!result.ok) {
    assert.equal(result.status, 400);
    assert.equal(result.error.code, "BadRequest");
  }
}

describe("queryChats", () => {
  it("defaults to lastUpdatedDateTime desc", () => {
    assert.deepEqual(
      ok(run("")).value.map((c) => c.id),
      ["19:b@thread.v2", "19:a@thread.v2", "19:c@thread.v2"],
    );
  });

  it("orders by lastMessagePreview/createdDateTime desc, chats without messages last, with or without expand", () => {
    const expected = ["19:a@thread.v2", "19:b@thread.v2", "19:c@thread.v2"];
    const q = `$orderby=${encodeURIComponent("lastMessagePreview/createdDateTime desc")}`;
    assert.deepEqual(
      ok(run(q)).value.map((c) => c.id),
      expected,
    );
    assert.deepEqual(
      ok(run(`${q}&$expand=lastMessagePreview`)).value.map((c) => c.id),
      expected,
    );
  });

  it("returns lastMessagePreview only when expanded", () => {
    for (const c of ok(run("")).value) assert.equal("lastMessagePreview" in c, false);
    const expanded = ok(run("$expand=lastMessagePreview")).value;
    assert.equal(expanded.find((c) => c.id === "19:a@thread.v2")?.lastMessagePreview?.createdDateTime, at(9));
    assert.equal(expanded.find((c) => c.id === "19:c@thread.v2")?.lastMessagePreview, null);
    assert.equal(
      ok(run("$expand=lastMessagePreview"))["@odata.context"],
      `https://127.0.0.1:8443/v1.0/$metadata#chats(lastMessagePreview())`,
    );
  });

  it("does not mutate the stored chats", () => {
    run("");
    assert.ok(chats[0]?.lastMessagePreview);
  });

  it("answers 400 for unsupported $orderby, $expand and $top", () => {
    badRequest(run(`$orderby=${encodeURIComponent("lastMessagePreview/createdDateTime asc")}`));
    badRequest(run(`$orderby=${encodeURIComponent("lastMessagePreview/createdDateTime")}`));
    badRequest(run(`$orderby=${encodeURIComponent("lastUpdatedDateTime desc")}`));
    badRequest(run("$expand=members"));
    badRequest(run("$top=51"));
    badRequest(run("$top=0"));
  });

  it("pages with nextLink across 3 pages without duplicates or gaps", () => {
    const many = Array.from({ length: 55 }, (_, i) =>
      chat(`19:${String(i).padStart(2, "0")}@thread.v2`, i, i % 7),
    );
    const q = `$top=20&$expand=lastMessagePreview&$orderby=${encodeURIComponent("lastMessagePreview/createdDateTime desc")}`;
    const seen: string[] = [];
    let url: string | undefined = `${BASE}?${q}`;
    let pages = 0;
    while (url !== undefined) {
      const page = ok(queryChats(many, new URL(url).searchParams, BASE));
      assert.ok(page.value.every((c) => c.lastMessagePreview !== undefined));
      seen.push(...page.value.map((c) => c.id));
      url = page["@odata.nextLink"];
      pages += 1;
      assert.ok(pages <= 3);
    }
    assert.equal(pages, 3);
    assert.equal(new Set(seen).size, 55);
    const keys = seen.map((id) =>
      Date.parse(many.find((c) => c.id === id)?.lastMessagePreview?.createdDateTime ?? ""),
    );
    assert.deepEqual(
      keys,
      [...keys].sort((a, b) => b - a),
    );
  });

  it("defaults to 20 per page", () => {
    const many = Array.from({ length: 21 }, (_, i) => chat(`19:${i}@thread.v2`, i));
    const page = ok(run("", many));
    assert.equal(page.value.length, 20);
    assert.equal(page["@odata.count"], 20);
    assert.ok(page["@odata.nextLink"]?.startsWith(`${BASE}?$skiptoken=`));
  });
});
