import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Org } from "../../src/core/org.ts";
import { changedOnly, parseOrgForm } from "../../src/web/org-form.ts";
import { html, raw } from "../../src/web/views/html.ts";

describe("html template", () => {
  it("escapes every interpolation, including inside attributes", () => {
    const name = `<script>alert("x")</script>' onmouseover='y`;
    const out = html`<p title="${name}">${name}</p>`.value;
    assert.doesNotMatch(out, /<script>/);
    assert.doesNotMatch(out, /' onmouseover='/);
    assert.match(out, /&lt;script&gt;alert\(&quot;x&quot;\)/);
  });

  // Prettier formats html`` templates as HTML, so whitespace between tags is not compared.
  it("nests templates and lists without escaping them twice, and drops null/false", () => {
    const items = ["a&b", "c"].map((i) => html`<li>${i}</li>`);
    assert.equal(
      html`<ul>
          ${items}
        </ul>
        ${null}${false}${raw("<hr>")}`.value.replace(/\s+/g, ""),
      "<ul><li>a&amp;b</li><li>c</li></ul><hr>",
    );
  });
});

const ORG: Org = {
  id: "org_1",
  name: "Contoso",
  tenantId: null,
  clientId: null,
  hasClientSecret: false,
  clientSecretExpiresAt: null,
  webhookBaseUrl: null,
  expectedServiceUserUpn: null,
  secretExpiryWarnedDays: null,
  notificationMode: "rich",
  createdAt: 0,
  updatedAt: 0,
};

describe("setup form", () => {
  it("maps the form onto the API's parser: empty clears, an empty secret keeps, a date means its UTC start", () => {
    const result = parseOrgForm({
      tenantId: "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
      clientId: "",
      clientSecret: "",
      clientSecretExpiresAt: "2027-05-31",
      expectedServiceUserUpn: "",
    });
    assert.deepEqual(result, {
      ok: true,
      value: {
        tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
        clientId: null,
        clientSecretExpiresAt: Date.parse("2027-05-31T00:00:00Z"),
        expectedServiceUserUpn: null,
      },
    });
  });

  it("reports the API's field errors and never the secret", () => {
    const result = parseOrgForm({
      tenantId: "common",
      clientId: "nope",
      clientSecret: "a\tb",
      clientSecretExpiresAt: "31/05/2027",
    });
    assert.equal(result.ok, false);
    const problems = result.ok ? [] : result.problems;
    assert.deepEqual(problems.map((p) => p.field).sort(), [
      "clientId",
      "clientSecret",
      "clientSecretExpiresAt",
      "tenantId",
    ]);
    assert.doesNotMatch(JSON.stringify(problems), /a\tb/);
  });

  it("keeps only what changed", () => {
    const parsed = parseOrgForm({
      name: "Contoso",
      notificationMode: "rich",
      webhookBaseUrl: "",
      clientSecret: "s3cret-value",
    });
    assert.ok(parsed.ok);
    assert.deepEqual(changedOnly(ORG, parsed.ok ? parsed.value : {}), { clientSecret: "s3cret-value" });
  });
});
