import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  renderEmergencyMessageBody,
  type EmergencyDialString,
  type EmergencyLocation,
} from "../../emulator/teams/emergency-message-body.ts";

const PHRASE = "has placed an Emergency Call";

const locations: EmergencyLocation[] = [
  { kind: "dynamic", place: "4th floor", address: "12345 North Main Street, Redmond, WA 98052" },
  { kind: "user", address: "1 Home Road, Springfield" },
  { kind: "static", address: "1 Microsoft Way, Redmond, WA 98052" },
  { kind: "unknown" },
];
const dialStrings: EmergencyDialString[] = ["911", "933", "112"];

describe("renderEmergencyMessageBody", () => {
  for (const location of locations) {
    for (const dialString of dialStrings) {
      it(`carries the confirmed phrase, the caller and ${dialString} for a ${location.kind} location`, () => {
        const body = renderEmergencyMessageBody({ callerDisplayName: "Adele Vance", dialString, location });
        assert.equal(body.contentType, "html");
        assert.ok(body.content.includes(`Adele Vance ${PHRASE}`), body.content);
        assert.ok(body.content.includes(dialString));
        assert.ok(body.content.split("<p>").length - 1 >= 3, "multi-line: one paragraph per line");
      });
    }
  }

  it("shows place and civic address for a dynamic location", () => {
    const { content } = renderEmergencyMessageBody({
      callerDisplayName: "A",
      dialString: "911",
      location: {
        kind: "dynamic",
        place: "4th floor",
        address: "12345 North Main Street\nRedmond, WA 98052",
      },
    });
    assert.ok(content.includes("4th floor<br>12345 North Main Street<br>Redmond, WA 98052"), content);
  });

  it("marks a user-entered address as provided by the user", () => {
    const { content } = renderEmergencyMessageBody({
      callerDisplayName: "A",
      dialString: "911",
      location: { kind: "user", address: "1 Home Road" },
    });
    assert.match(content, /entered by the user[^<]*: 1 Home Road/);
  });

  it("shows the registered address for a static location", () => {
    const { content } = renderEmergencyMessageBody({
      callerDisplayName: "A",
      dialString: "112",
      location: { kind: "static", address: "1 Microsoft Way" },
    });
    assert.match(content, /Registered emergency address: 1 Microsoft Way/);
  });

  it("says the location is unknown, also when a known kind has no text", () => {
    for (const location of [
      { kind: "unknown" },
      { kind: "dynamic" },
      { kind: "user", address: "  " },
      { kind: "static" },
    ] as EmergencyLocation[]) {
      const { content } = renderEmergencyMessageBody({ callerDisplayName: "A", dialString: "911", location });
      assert.ok(content.includes("<p>Location unknown</p>"), `${location.kind}: ${content}`);
    }
  });

  it("escapes every interpolated value", () => {
    const { content } = renderEmergencyMessageBody({
      callerDisplayName: `<script>alert("x")</script> & 'co'`,
      dialString: "911",
      location: { kind: "dynamic", place: "<script>p</script>", address: "<img src=x onerror=y>" },
    });
    assert.ok(!content.includes("<script>"), content);
    assert.ok(!content.includes("<img"), content);
    assert.ok(
      content.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39; " + PHRASE),
    );
    assert.ok(content.includes("&lt;script&gt;p&lt;/script&gt;"));
    assert.ok(content.includes("&lt;img src=x onerror=y&gt;"));
  });

  it("keeps placeholder-looking text in values literal", () => {
    const { content } = renderEmergencyMessageBody({
      callerDisplayName: "{dialString} {location}",
      dialString: "933",
      location: { kind: "unknown" },
    });
    assert.ok(content.startsWith(`<p>{dialString} {location} ${PHRASE}</p>`), content);
  });
});
