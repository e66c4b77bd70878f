import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  renderEmergencyMessageBody,
  type EmergencyDialString,
  type EmergencyLocation as EmulatorLocation,
} from "../../emulator/teams/emergency-message-body.ts";
import { DEFAULT_RULE, detectEmergency } from "../../src/core/detect-emergency.ts";
import { deriveDetectionPhrase } from "../../src/core/derive-detection-phrase.ts";
import { toDetectionFixture } from "../../src/core/detection-fixture.ts";
import { findCoordinates } from "../../src/core/emergency-location.ts";
import type { DetectionResult, DetectionRule, Emergency } from "../../src/core/emergency.ts";
import { htmlToText } from "../../src/core/html-to-text.ts";

const CHAT = "19:abc@thread.v2";
const CALLER_ID = "6e5b7f0a-1c2d-4e3f-9a8b-7c6d5e4f3a2b";

function message(
  content: string,
  options: {
    from?: string | null;
    fromId?: string;
    contentType?: string;
    extra?: Record<string, unknown>;
  } = {},
): Record<string, unknown> {
  const from = options.from === undefined ? "Adele Vance" : options.from;
  return {
    id: "1764234000000",
    chatId: CHAT,
    messageType: "message",
    createdDateTime: "2026-11-27T09:00:00.000Z",
    deletedDateTime: null,
    replyToId: null,
    webUrl: "https://teams.microsoft.com/l/message/19:abc@thread.v2/1764234000000",
    from: from === null ? null : { user: { id: options.fromId ?? CALLER_ID, displayName: from } },
    body: { contentType: options.contentType ?? "html", content },
    attachments: [],
    mentions: [],
    ...options.extra,
  };
}

function detected(result: DetectionResult): Emergency {
  assert.ok(result.emergency, `expected an emergency: ${result.emergency ? "" : result.reason}`);
  return result.value;
}

function notDetected(result: DetectionResult): string {
  assert.equal(result.emergency, false, `expected no emergency: ${JSON.stringify(result)}`);
  return result.emergency ? "" : result.reason;
}

describe("detectEmergency: every message the emulator renders", () => {
  const callers = ["Adele Vance", "Renée O'Brien & Søn", "李 小龍", 'Pat <Ops> "Lead"'];
  const locations: Array<{ input: EmulatorLocation; place: string | null; civic: string | null }> = [
    {
      input: {
        kind: "dynamic",
        place: "Building 4, Floor 2",
        address: "1 Main Street\nSpringfield, IL 62701",
      },
      place: "Building 4, Floor 2",
      civic: "1 Main Street, Springfield, IL 62701",
    },
    { input: { kind: "dynamic", place: "4th floor" }, place: "4th floor", civic: null },
    {
      input: { kind: "dynamic", address: "12345 North Main Street\nRedmond, WA 98052" },
      place: null,
      civic: "12345 North Main Street, Redmond, WA 98052",
    },
    {
      input: { kind: "user", address: "1 Home Road, Springfield" },
      place: null,
      civic: "1 Home Road, Springfield",
    },
    {
      input: { kind: "static", address: "1 Microsoft Way\nRedmond, WA 98052" },
      place: null,
      civic: "1 Microsoft Way, Redmond, WA 98052",
    },
    { input: { kind: "unknown" }, place: null, civic: null },
    // A kind without text renders as unknown.
    { input: { kind: "user", address: "   " }, place: null, civic: null },
    { input: { kind: "dynamic" }, place: null, civic: null },
  ];
  const dials: EmergencyDialString[] = ["911", "933", "112"];

  for (const callerName of callers) {
    for (const { input, place, civic } of locations) {
      for (const dialString of dials) {
        it(`${callerName} / ${input.kind} ${place ?? "-"} ${civic ?? "-"} / ${dialString}`, () => {
          const body = renderEmergencyMessageBody({
            callerDisplayName: callerName,
            dialString,
            location: input,
          });
          const value = detected(detectEmergency(message(body.content, { from: callerName }), []));
          assert.deepEqual(value.caller, { id: CALLER_ID, displayName: callerName, userPrincipalName: null });
          assert.equal(value.dialString, dialString);
          assert.equal(value.isTest, dialString === "933");
          assert.equal(value.location.place, place);
          assert.equal(value.location.civicAddress, civic);
          const expectedQuality =
            place === null && civic === null ? "unknown" : input.kind === "user" ? "user_entered" : "known";
          assert.equal(value.location.quality, expectedQuality);
          assert.ok(value.location.raw, "the location line is always kept, even 'Location unknown'");
          assert.equal(value.chatId, CHAT);
          assert.equal(value.messageId, "1764234000000");
          assert.equal(value.messageTime, Date.parse("2026-11-27T09:00:00.000Z"));
          assert.equal(value.html, body.content);
          assert.ok(value.text.startsWith(`${callerName} has placed an Emergency Call`), value.text);
        });
      }
    }
  }
});

describe("detectEmergency: HTML shapes", () => {
  const shapes: Record<string, string> = {
    paragraphs:
      "<p>Adele Vance has placed an Emergency Call</p><p>Dialed: 911</p><p>Location: Lobby<br>1 Main St.</p>",
    divs: "<div>Adele Vance has placed an Emergency Call</div><div>Dialed: 911</div><div>Location: Lobby<br/>1 Main St.</div>",
    breaks: "Adele Vance has placed an Emergency Call<br>Dialed: 911<br><br>Location: Lobby<BR>1 Main St.",
    entities:
      "<p>Adele&#32;Vance&nbsp;has placed an&#x20;Emergency&nbsp;Call</p><p>Dialed:&nbsp;&#57;11</p><p>Location:&nbsp;Lobby<br>1&nbsp;Main&nbsp;St.</p>",
    whitespace:
      "\n  <p>\n\tAdele    Vance\n   has placed   an Emergency Call   </p>\n\n  <p> Dialed:   911 </p>\r\n<p>  Location:  Lobby <br>\n   1 Main St.  </p>  ",
    nested:
      '<div><div><span style="font-weight:bold">Adele Vance</span> has placed an <b>Emergency Call</b></div></div><div><p>Dialed: 911</p><p>Location: Lobby<br>1 Main St.</p></div>',
    invisible:
      "<p>\u200bAdele Vance has placed an Emer\u00adgency Call\ufeff</p><p>Dialed: 911</p><p>Location: Lobby<br>1 Main St.</p>",
    comments:
      "<!-- notification --><p>Adele Vance has placed an Emergency Call</p><p>Dialed: 911</p><p>Location: Lobby<br>1 Main St.</p>",
    mention:
      '<p><at id="0">Adele Vance</at> has placed an Emergency Call</p><p>Dialed: 911</p><p>Location: Lobby<br>1 Main St.</p>',
    casing:
      "<p>ADELE VANCE HAS PLACED AN EMERGENCY CALL!</p><p>dialed: 911</p><p>location: Lobby<br>1 Main St.</p>",
  };
  for (const [name, html] of Object.entries(shapes)) {
    it(`${name}: the same emergency`, () => {
      const value = detected(detectEmergency(message(html), []));
      assert.equal(value.caller.displayName, name === "casing" ? "ADELE VANCE" : "Adele Vance");
      assert.equal(value.dialString, "911");
      assert.equal(value.location.place, "Lobby");
      assert.equal(value.location.civicAddress, "1 Main St.");
      assert.equal(value.location.quality, "known");
    });
  }

  it("plain-text bodies keep their line breaks", () => {
    const value = detected(
      detectEmergency(
        message("Adele Vance has placed an Emergency Call\r\nDialed: 933\r\n\r\nLocation: Lobby", {
          contentType: "text",
        }),
        [],
      ),
    );
    assert.equal(value.dialString, "933");
    assert.equal(value.location.place, "Lobby");
    assert.equal(value.text, "Adele Vance has placed an Emergency Call\nDialed: 933\n\nLocation: Lobby");
  });

  it("text is paragraphs separated by a blank line, <br> lines, entities decoded, quotes marked", () => {
    assert.equal(
      htmlToText("<p>a &amp; b</p><p>c<br>d</p><blockquote><p>quoted</p></blockquote><p>e &lt;f&gt;</p>", {
        quotes: "keep",
      }),
      "a & b\n\nc\nd\n\n> quoted\n\ne <f>",
    );
    assert.equal(
      htmlToText("<p>a</p><blockquote>x<blockquote>y</blockquote>z</blockquote><p>b</p>"),
      "a\n\nb",
    );
    assert.equal(htmlToText("<style>p{}</style><script>alert(1)</script><p>x</p>"), "x");
    assert.equal(htmlToText("&#0;&#xD800;&#1114112;&bogus;&AMP;"), "\ufffd\ufffd\ufffd&bogus;&");
    assert.equal(htmlToText("1 < 2 <b>and</b> 3 > 2"), "1 < 2 and 3 > 2");
    assert.equal(htmlToText('<img alt="x" src="a>b.png">ok'), "ok");
    assert.equal(htmlToText("<table><tr><td>a</td><td>b</td></tr></table>"), "a b");
  });
});

describe("detectEmergency: what is not an emergency", () => {
  const phrase = "<p>Adele Vance has placed an Emergency Call</p><p>Dialed: 911</p>";

  it("non-message types, deleted messages and replies, whatever they say", () => {
    for (const messageType of ["systemEventMessage", "chatEvent", "typing", "unknownFutureValue"]) {
      assert.match(
        notDetected(detectEmergency(message(phrase, { extra: { messageType } }), [])),
        /messageType/,
      );
    }
    assert.match(
      notDetected(
        detectEmergency(message(phrase, { extra: { deletedDateTime: "2026-11-27T09:01:00Z" } }), []),
      ),
      /deleted/,
    );
    assert.match(
      notDetected(detectEmergency(message(phrase, { extra: { replyToId: "1764" } }), [])),
      /reply/,
    );
    assert.match(notDetected(detectEmergency(message(phrase, { extra: { body: null } }), [])), /no body/);
    assert.match(notDetected(detectEmergency(message("<p>&nbsp;</p>"), [])), /no text/);
  });

  it("a messageType that is missing counts as a message (older payloads)", () => {
    const m = message(phrase);
    delete m.messageType;
    detected(detectEmergency(m, []));
  });

  it("the caller must be the sender: a mention of someone else, or another person's name", () => {
    const mentioned = message('<p><at id="0">Megan Bowen</at> has placed an Emergency Call</p>', {
      extra: {
        mentions: [
          {
            id: 0,
            mentionText: "Megan Bowen",
            mentioned: { user: { id: "other-id", displayName: "Megan Bowen" } },
          },
        ],
      },
    });
    assert.match(notDetected(detectEmergency(mentioned, [])), /not the message's sender/);
    assert.match(
      notDetected(detectEmergency(message(phrase, { from: "Megan Bowen", fromId: "other-id" }), [])),
      /not the message's sender/,
    );
  });

  it("names that are the same person pass: reversed, with a suffix, as a UPN, accents aside", () => {
    for (const named of ["Vance, Adele", "Adele Vance (Contoso)", "adele.vance@contoso.com", "Adèle Vance"]) {
      const value = detected(detectEmergency(message(`<p>${named} has placed an Emergency Call</p>`), []));
      assert.equal(value.caller.id, CALLER_ID, named);
    }
    const withUpn = detected(
      detectEmergency(
        message("<p>Adele Vance &lt;AdeleV@contoso.onmicrosoft.com&gt; has placed an Emergency Call</p>"),
        [],
      ),
    );
    assert.deepEqual(withUpn.caller, {
      id: CALLER_ID,
      displayName: "Adele Vance",
      userPrincipalName: "AdeleV@contoso.onmicrosoft.com",
    });
  });

  it("an empty sender display name is no reason to miss a call (the reference saw that happen)", () => {
    const value = detected(detectEmergency(message(phrase, { from: "" }), []));
    assert.deepEqual(value.caller, { id: CALLER_ID, displayName: "Adele Vance", userPrincipalName: null });
  });

  it("the mention supplies the caller's id", () => {
    const value = detected(
      detectEmergency(
        message('<p><at id="0">Adele Vance</at> has placed an Emergency Call</p>', {
          from: null,
          extra: {
            mentions: [
              {
                id: 0,
                mentionText: "Adele Vance",
                mentioned: { user: { id: "mentioned-id", displayName: "Adele Vance" } },
              },
            ],
          },
        }),
        [],
      ),
    );
    assert.equal(value.caller.id, "mentioned-id");
  });
});

describe("detectEmergency: fields", () => {
  it("a house number that is 112 or 911 is not the dial string", () => {
    const value = detected(
      detectEmergency(
        message(
          "<p>Adele Vance has placed an Emergency Call</p><p>Location: 112 Main Street<br>Springfield</p>",
        ),
        [],
      ),
    );
    assert.equal(value.dialString, null);
    assert.equal(value.location.civicAddress, "112 Main Street, Springfield");
  });

  it("other dial strings come from a label; a bare one from a line of its own", () => {
    assert.equal(
      detected(
        detectEmergency(
          message("<p>Adele Vance has placed an Emergency Call</p><p>Number dialed: 999</p>"),
          [],
        ),
      ).dialString,
      "999",
    );
    assert.equal(
      detected(
        detectEmergency(
          message("<p>Adele Vance has placed an Emergency Call</p><p>Emergency services (112) notified</p>"),
          [],
        ),
      ).dialString,
      "112",
    );
    assert.equal(
      detected(detectEmergency(message("<p>Adele Vance has placed an Emergency Call to 933.</p>"), []))
        .dialString,
      "933",
    );
  });

  it("coordinates in the usual spellings, and none from placeholders or out-of-range numbers", () => {
    assert.deepEqual(findCoordinates("47.6396, -122.1281"), { latitude: 47.6396, longitude: -122.1281 });
    assert.deepEqual(findCoordinates("47.6396,-122.1281"), { latitude: 47.6396, longitude: -122.1281 });
    assert.deepEqual(findCoordinates("Latitude: 47.64 Longitude: -122.13"), {
      latitude: 47.64,
      longitude: -122.13,
    });
    assert.deepEqual(findCoordinates("47.64° N, 122.13° W"), { latitude: 47.64, longitude: -122.13 });
    assert.equal(findCoordinates("00.0000, 00.0000"), null);
    assert.equal(findCoordinates("95.1, 10.2"), null);
    assert.equal(findCoordinates("Building 4, Floor 2"), null);
  });

  it("'not verified' wording makes the location user-entered; a location without text is unknown", () => {
    const user = detected(
      detectEmergency(
        message("<p>Adele Vance has placed an Emergency Call</p><p>Address: 1 Home Road (not verified)</p>"),
        [],
      ),
    ).location;
    assert.equal(user.quality, "user_entered");
    assert.equal(user.civicAddress, "1 Home Road (not verified)");
    const none = detected(
      detectEmergency(message("<p>Adele Vance has placed an Emergency Call</p><p>Location: N/A</p>"), []),
    ).location;
    assert.equal(none.quality, "unknown");
    assert.equal(none.raw, "Location: N/A");
  });

  it("an edit of the notification yields the same chat and message ids (the alert's unique key)", () => {
    const original = detected(
      detectEmergency(message("<p>Adele Vance has placed an Emergency Call</p>"), []),
    );
    const edited = detected(
      detectEmergency(
        message("<p>Adele Vance has placed an Emergency Call</p><p>Location: Lobby</p>", {
          extra: { lastEditedDateTime: "2026-11-27T09:05:00Z", etag: "1764234300000" },
        }),
        [],
      ),
    );
    assert.deepEqual([edited.chatId, edited.messageId], [original.chatId, original.messageId]);
  });
});

describe("detectEmergency: per-org rules", () => {
  const spanish: DetectionRule = {
    id: "rule_es",
    name: "Español",
    kind: "pattern",
    value:
      "^(?<caller>[^\\n]+?) ha realizado una llamada de emergencia al (?<dialString>\\d+)$\\s*^Ubicación: (?<location>[^\\n]+)$",
  };

  it("the default rule goes first; a pattern rule's named groups fill the fields", () => {
    const value = detected(
      detectEmergency(
        message("<p>Adele Vance ha realizado una llamada de emergencia al 112</p><p>Ubicación: Planta 3</p>"),
        [spanish],
      ),
    );
    assert.equal(value.caller.displayName, "Adele Vance");
    assert.equal(value.caller.id, CALLER_ID);
    assert.equal(value.dialString, "112");
    assert.equal(value.location.place, "Planta 3");
    const english = detectEmergency(message("<p>Adele Vance has placed an Emergency Call</p>"), [spanish]);
    assert.ok(english.emergency && english.ruleId === DEFAULT_RULE.id);
  });

  it("a phrase rule may name the caller after the phrase, and marksTest makes any call a test", () => {
    const rule: DetectionRule = {
      id: "rule_de",
      name: "Deutsch",
      kind: "phrase",
      value: "Notruf von",
      marksTest: true,
    };
    const result = detectEmergency(message("<p>Notruf von Adele Vance</p><p>Gewählt: 112</p>"), [rule]);
    const value = detected(result);
    assert.equal(result.emergency && result.ruleId, "rule_de");
    assert.equal(value.caller.displayName, "Adele Vance");
    assert.equal(value.isTest, true);
    notDetected(
      detectEmergency(message("<p>Notruf von Adele Vance</p>", { from: "Megan Bowen", fromId: "m" }), [rule]),
    );
  });

  it("patterns read plain text only, never the HTML", () => {
    const rule: DetectionRule = { id: "r", name: "html", kind: "pattern", value: "<at id=" };
    notDetected(detectEmergency(message('<p><at id="0">Adele</at> hello</p>'), [rule]));
  });

  it("a stored pattern that no longer compiles is skipped, not fatal", () => {
    const broken: DetectionRule = { id: "r1", name: "broken", kind: "pattern", value: "(" };
    const phrase: DetectionRule = { id: "r2", name: "ok", kind: "phrase", value: "alarm raised by" };
    const result = detectEmergency(message("<p>Alarm raised by Adele Vance</p>"), [broken, phrase]);
    assert.ok(result.emergency && result.ruleId === "r2");
  });

  it("says how many org rules were tried when nothing matched", () => {
    assert.match(
      notDetected(detectEmergency(message("<p>hello</p>"), [spanish])),
      /does not contain "has placed an Emergency Call" and none of the org's 1 detection rule/,
    );
  });
});

describe("drill helpers", () => {
  it("derives a phrase from a capture's first line without the sender's name", () => {
    const derived = deriveDetectionPhrase(
      message("<p>🚨 Adele Vance a passé un appel d'urgence.</p><p>Lieu: B</p>"),
    );
    assert.deepEqual(derived, { ok: true, phrase: "a passé un appel d'urgence" });
    const builtIn = deriveDetectionPhrase(message("<p>Adele Vance has placed an Emergency Call</p>"));
    assert.equal(builtIn.ok, false);
    assert.match(builtIn.ok ? "" : builtIn.reason, /built-in/);
  });

  it("exports a capture as a fixture the corpus test can run, with the org rule it needs", () => {
    const rule: DetectionRule = { id: "rule_x", name: "x", kind: "phrase", value: "alarm raised by" };
    const m = message("<p>Alarm raised by Adele Vance</p>");
    const fixture = toDetectionFixture({
      description: "d",
      message: m,
      result: detectEmergency(m, [rule]),
      rules: [rule],
    });
    assert.deepEqual(fixture.rules, [rule]);
    assert.equal(fixture.expected.emergency, true);
    assert.equal("html" in fixture.expected, false);
    const plain = toDetectionFixture({
      description: "d",
      message: m,
      result: detectEmergency(m, []),
      rules: [rule],
    });
    assert.deepEqual(plain.expected, { emergency: false });
    assert.equal(plain.rules, undefined);
  });
});
