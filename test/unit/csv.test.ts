import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { csvCell, toCsv } from "../../src/core/csv.ts";
import { emergencyCsv } from "../../src/core/emergency-csv.ts";
import { anEmergency, anEmergencyRecord } from "../helpers/alert-fixtures.ts";

describe("CSV", () => {
  it("quotes fields with commas, quotes and line breaks, and doubles quotes (RFC 4180)", () => {
    assert.equal(csvCell("plain"), "plain");
    assert.equal(csvCell("a,b"), '"a,b"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell("two\nlines"), '"two\nlines"');
    assert.equal(csvCell(null), "");
    assert.equal(csvCell(undefined), "");
    assert.equal(
      toCsv([
        ["a", "b"],
        [1, null],
      ]),
      "a,b\r\n1,\r\n",
    );
  });

  it("neutralizes cells a spreadsheet would run as formulas", () => {
    for (const formula of ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]) {
      assert.ok(csvCell(formula).replace(/^"/, "").startsWith("'"), formula);
    }
    assert.equal(csvCell('=HYPERLINK("http://evil","x")'), `"'=HYPERLINK(""http://evil"",""x"")"`);
    assert.equal(csvCell(-5), "-5", "our own numbers stay numbers");
    assert.equal(csvCell("a=b"), "a=b", "only a leading character matters");
  });

  it("exports emergencies with the caller's text escaped and times in UTC", () => {
    const record = anEmergencyRecord("org_1", Date.parse("2026-11-27T09:00:00Z"), {
      emergency: anEmergency({
        caller: { id: null, displayName: '=cmd|"/c calc"!A1', userPrincipalName: "pat@contoso.example" },
        messageTime: Date.parse("2026-11-27T08:59:58Z"),
      }),
      acknowledgement: {
        at: Date.parse("2026-11-27T09:00:42Z"),
        by: "Rita, desk",
        via: "web",
        channelId: null,
      },
      state: "acknowledged",
    });
    const lines = emergencyCsv([record], new Map([["org_1", "Contoso"]])).split("\r\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^id,organization,detected_at_utc,call_time_utc,type,dial_string,caller,/);
    assert.ok(
      lines[1]!.startsWith(
        `${record.id},Contoso,2026-11-27T09:00:00.000Z,2026-11-27T08:59:58.000Z,real,911,`,
      ),
    );
    assert.ok(lines[1]!.includes(`"'=cmd|""/c calc""!A1"`), lines[1]);
    assert.ok(lines[1]!.endsWith(`,acknowledged,,2026-11-27T09:00:42.000Z,"Rita, desk",web,42`), lines[1]);
    assert.equal(lines[2], "");
  });
});
