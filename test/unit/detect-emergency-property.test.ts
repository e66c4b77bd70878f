import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { detectEmergency } from "../../src/core/detect-emergency.ts";

// Property: ordinary chat is never an emergency, including chat that talks about emergency calls and repeats the
// notification's words. Thousands of messages from a seeded generator (the seed is in the failure message, so
// a failure can be replayed), plus a positive control built with the same wrappers, so the test cannot pass by
// rejecting everything.

const SEED = Number(process.env.DETECTION_PROPERTY_SEED ?? 20261127);
const ORDINARY_COUNT = 5000;
const CONTROL_COUNT = 300;

const PEOPLE = [
  { id: "u-1", name: "Alex Morgan" },
  { id: "u-2", name: "Priya Natarajan" },
  { id: "u-3", name: "Jürgen Weiß" },
  { id: "u-4", name: "Fatima Al-Sayed" },
  { id: "u-5", name: "Kenji Watanabe" },
  { id: "u-6", name: "Olusegun Adeyemi" },
];
const WORDS = [
  "emergency",
  "Emergency",
  "call",
  "Call",
  "placed",
  "has",
  "an",
  "911",
  "933",
  "112",
  "who",
  "did",
  "you",
  "see",
  "someone",
  "I",
  "think",
  "the",
  "location",
  "dialed",
  "building",
  "floor",
  "lunch",
  "meeting",
  "today",
  "test",
  "drill",
  "was",
  "it",
  "a",
  "security",
  "desk",
  "please",
  "check",
  "yesterday",
  "room",
  "alarm",
  "phone",
  "number",
  "is",
  "this",
  "real",
  "ok",
  "thanks",
  "fire",
  "lobby",
  "Teams",
  "notification",
  "again",
  "why",
  "!",
  ",",
  ":-)",
];
const PHRASE_VARIANTS = [
  "has placed an Emergency Call",
  "has placed an emergency call",
  "HAS PLACED AN EMERGENCY CALL",
  "placed an Emergency Call",
  "had placed an Emergency Call",
  "has placed a Emergency Call",
];

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("detectEmergency on random ordinary chat", () => {
  const random = prng(SEED);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const words = (min: number, max: number) =>
    Array.from({ length: int(min, max) }, () => pick(WORDS)).join(" ");
  // At least two words with letters: never just punctuation or "to 911", which end a real notification line.
  const tail = () =>
    `${pick(["and", "from", "near", "because", "but"])} ${pick(["the", "our", "my"])} ${words(0, 6)}`;
  const others = (sender: (typeof PEOPLE)[number]) => PEOPLE.filter((p) => p.id !== sender.id);

  const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  /** Lines as Teams might send them: paragraphs, divs, <br>, entities for spaces, or a text body. */
  function wrap(lines: string[]): { contentType: string; content: string } {
    const space = () => pick([" ", " ", "&nbsp;", "  "]);
    const html = (line: string) => escape(line).replace(/ /g, () => space());
    switch (int(0, 4)) {
      case 0:
        return { contentType: "html", content: lines.map((l) => `<p>${html(l)}</p>`).join("") };
      case 1:
        return {
          contentType: "html",
          content: `<div>${lines.map((l) => `<div>${html(l)}</div>`).join("")}</div>`,
        };
      case 2:
        return { contentType: "html", content: lines.map(html).join("<br>") };
      case 3:
        return { contentType: "html", content: `\n  <p>${lines.map(html).join("</p>\n\n<p>  ")}</p>  ` };
      default:
        return { contentType: "text", content: lines.join(pick(["\n", "\r\n", "\n\n"])) };
    }
  }

  function chatMessage(
    sender: (typeof PEOPLE)[number],
    body: { contentType: string; content: string },
    extra = {},
  ) {
    return {
      id: String(int(1, 1e12)),
      chatId: "19:property@thread.v2",
      messageType: "message",
      createdDateTime: "2026-11-27T09:00:00.000Z",
      from: { user: { id: sender.id, displayName: sender.name } },
      body,
      mentions: [],
      attachments: [],
      ...extra,
    };
  }

  /** One ordinary message of a random kind; `kind` names the generator for failure reports. */
  function ordinary(): { kind: string; message: Record<string, unknown> } {
    const sender = pick(PEOPLE);
    const phrase = pick(PHRASE_VARIANTS);
    const other = pick(others(sender));
    switch (int(0, 7)) {
      case 0:
        return {
          kind: "random words",
          message: chatMessage(sender, wrap([words(1, 20), ...(random() < 0.5 ? [words(1, 12)] : [])])),
        };
      case 1:
        return {
          kind: "phrase inside a longer sentence",
          message: chatMessage(
            sender,
            wrap([`${pick([sender.name, other.name, words(1, 4)])} ${phrase} ${tail()}`]),
          ),
        };
      case 2:
        return {
          kind: "question",
          message: chatMessage(
            sender,
            wrap([
              `${pick(["did you see who", "why has", sender.name, other.name, words(1, 5)])} ${phrase}${pick(["?", " ?", "??", " today?"])}`,
            ]),
          ),
        };
      case 3:
        return {
          kind: "someone else named as the caller",
          message: chatMessage(
            sender,
            wrap([
              `${other.name} ${phrase}${pick(["", ".", "!", " (911)"])}`,
              ...(random() < 0.5 ? [`Dialed: ${pick(["911", "933"])}`] : []),
            ]),
          ),
        };
      case 4: {
        const mentionText = other.name;
        return {
          kind: "someone else mentioned as the caller",
          message: chatMessage(
            sender,
            { contentType: "html", content: `<p><at id="0">${escape(mentionText)}</at> ${phrase}</p>` },
            {
              mentions: [
                { id: 0, mentionText, mentioned: { user: { id: other.id, displayName: other.name } } },
              ],
            },
          ),
        };
      }
      case 5:
        return {
          kind: "the notification quoted in a reply",
          message: chatMessage(sender, {
            contentType: "html",
            content: `<blockquote itemtype="http://schema.skype.com/Reply"><p>${escape(pick([sender.name, other.name]))} has placed an Emergency Call</p><p>Dialed: 911</p></blockquote><p>${escape(words(1, 10))}</p>`,
          }),
        };
      case 6:
        return {
          kind: "the statement below another line",
          // A line of text first (a line of only emoji or punctuation is decoration, skipped by design).
          message: chatMessage(
            sender,
            wrap([
              pick(["Heads up", "FYI", `${words(0, 8)} note`]),
              `${sender.name} has placed an Emergency Call`,
            ]),
          ),
        };
      default:
        return {
          kind: "words with the phrase and no caller",
          message: chatMessage(
            sender,
            wrap([`${phrase} ${random() < 0.5 ? "" : words(0, 6)}`.trim(), words(0, 5)].filter(Boolean)),
          ),
        };
    }
  }

  it(`${ORDINARY_COUNT} ordinary messages (seed ${SEED}) are never an emergency`, () => {
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    for (let i = 0; i < ORDINARY_COUNT; i++) {
      const { kind, message } = ordinary();
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const result = detectEmergency(message, []);
      if (result.emergency && failures.length < 5)
        failures.push(`#${i} ${kind}: ${JSON.stringify((message.body as { content: string }).content)}`);
    }
    assert.deepEqual(failures, [], `seed ${SEED}`);
    assert.equal(kinds.size, 8, "every generator ran");
  });

  it(`${CONTROL_COUNT} notifications built with the same wrappers are all detected (seed ${SEED})`, () => {
    for (let i = 0; i < CONTROL_COUNT; i++) {
      const sender = pick(PEOPLE);
      const dial = pick(["911", "933", "112"]);
      const lines = [
        `${pick(["", "🚨 "])}${sender.name} has placed an Emergency Call${pick(["", "."])}`,
        `Dialed: ${dial}`,
      ];
      if (random() < 0.7) lines.push(`Location: ${pick(["Lobby", "Building 2, Floor 3", "1 Main Street"])}`);
      const result = detectEmergency(chatMessage(sender, wrap(lines)), []);
      assert.ok(result.emergency, `#${i}: ${lines.join(" / ")}: ${result.emergency ? "" : result.reason}`);
      assert.equal(result.value.dialString, dial);
      assert.equal(result.value.caller.id, sender.id);
    }
  });
});
