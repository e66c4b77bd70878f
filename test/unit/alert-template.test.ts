import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_TEMPLATES,
  TEMPLATE_KINDS,
  TEMPLATE_VARIABLES,
  checkTemplate,
  renderTemplate,
} from "../../src/core/alert-template.ts";
import { parseTemplateInput } from "../../src/core/alert-template-input.ts";

describe("templates", () => {
  it("every built-in default passes its own check", () => {
    for (const kind of TEMPLATE_KINDS)
      assert.deepEqual(checkTemplate(kind, DEFAULT_TEMPLATES[kind]), [], kind);
  });

  it("unknown variables are refused with the known ones listed", () => {
    const problems = checkTemplate("emergency", {
      title: "{{caller}} {{callr}}",
      text: "{{eventKind}} {{ location }}",
    });
    assert.deepEqual(
      problems.map((p) => p.field),
      ["title", "text"],
    );
    assert.match(problems[0]!.reason, /unknown variable \{\{callr\}\}/);
    assert.match(problems[0]!.reason, /\{\{dialString\}\}/);
    assert.match(problems[1]!.reason, /\{\{eventKind\}\}/, "operational variables are not call variables");
    assert.deepEqual(checkTemplate("operational", { title: "{{eventKind}}", text: "{{eventMessage}}" }), []);
  });

  it("refuses empty, multi-line titles and stray braces", () => {
    const fields = (t: { title: string; text: string }) => checkTemplate("test", t).map((p) => p.reason);
    assert.equal(fields({ title: " ", text: "x" }).length, 1);
    assert.match(fields({ title: "a\nb", text: "x" })[0]!, /one line/);
    assert.match(fields({ title: "a", text: "Hello {{ caller" })[0]!, /\{\{/);
  });

  it("renders in one pass: a value that looks like a variable stays literal", () => {
    const out = renderTemplate(
      { title: "Call by {{caller}}", text: "At {{location}}" },
      {
        caller: "{{location}}",
        location: "Room 1",
      },
    );
    assert.deepEqual(out, { title: "Call by {{location}}", text: "At Room 1" });
  });

  it("leaves out lines whose variables are all empty, keeps literal lines", () => {
    const out = renderTemplate(
      { title: "t", text: "Caller: {{caller}}\n\nMap: {{mapUrl}}\n\nTeams: {{teamsUrl}}\nEnd" },
      { caller: "Pat", mapUrl: "", teamsUrl: "" },
    );
    assert.equal(out.text, "Caller: Pat\n\nEnd");
  });

  it("parseTemplateInput requires both parts on save and falls back for previews", () => {
    const save = parseTemplateInput("emergency", { title: "x" });
    assert.deepEqual(save.ok ? [] : save.problems.map((p) => p.field), ["text"]);
    const preview = parseTemplateInput("emergency", { title: "{{caller}}" }, DEFAULT_TEMPLATES.emergency);
    assert.equal(preview.ok && preview.value.text, DEFAULT_TEMPLATES.emergency.text);
    const unknown = parseTemplateInput("emergency", { title: "{{nope}}", text: "x", extra: 1 });
    assert.deepEqual(unknown.ok ? [] : unknown.problems.map((p) => p.field), ["extra"]);
    assert.ok(TEMPLATE_VARIABLES.emergency.includes("ackUrl"));
  });
});
