import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CONSUMER_TENANT_ID,
  parseCreateOrg,
  parseUpdateOrg,
  type ParseResult,
} from "../../src/core/org-input.ts";
import type { FieldProblem } from "../../src/core/validation-error.ts";

const TENANT = "72F988BF-86F1-41AF-91AB-2D7CD011DB47";
const CLIENT = "11111111-2222-3333-4444-555555555555";
const SECRET = "Abc8Q~secret.value-123_XYZ";

function problemsOf<T>(result: ParseResult<T>): FieldProblem[] {
  assert.equal(result.ok, false, "expected the input to be rejected");
  return result.ok ? [] : result.problems;
}

function valueOf<T>(result: ParseResult<T>): T {
  if (!result.ok) assert.fail(`expected the input to be accepted: ${JSON.stringify(result.problems)}`);
  return result.value;
}

function fields(problems: FieldProblem[]): string[] {
  return problems.map((p) => p.field).sort();
}

describe("parseCreateOrg", () => {
  it("accepts a name alone, trimmed", () => {
    assert.deepEqual(valueOf(parseCreateOrg({ name: "  Contoso  " })), { name: "Contoso" });
  });

  it("accepts and normalises the optional fields", () => {
    assert.deepEqual(
      valueOf(
        parseCreateOrg({
          name: "Contoso",
          webhookBaseUrl: "https://Relay.Contoso.com/base/",
          expectedServiceUserUpn: " relay-svc@contoso.onmicrosoft.com ",
        }),
      ),
      {
        name: "Contoso",
        webhookBaseUrl: "https://relay.contoso.com/base",
        expectedServiceUserUpn: "relay-svc@contoso.onmicrosoft.com",
      },
    );
    assert.deepEqual(
      valueOf(parseCreateOrg({ name: "A", webhookBaseUrl: null, expectedServiceUserUpn: null })),
      {
        name: "A",
        webhookBaseUrl: null,
        expectedServiceUserUpn: null,
      },
    );
  });

  it("requires a name of 1 to 200 characters", () => {
    assert.deepEqual(problemsOf(parseCreateOrg({})), [{ field: "name", reason: "is required" }]);
    for (const name of ["", "   ", "x".repeat(201), 42, null, ["Contoso"], "Con\ntoso"]) {
      assert.deepEqual(
        fields(problemsOf(parseCreateOrg({ name }))),
        ["name"],
        `name ${JSON.stringify(name)}`,
      );
    }
    assert.equal(valueOf(parseCreateOrg({ name: "x".repeat(200) })).name.length, 200);
  });

  it("rejects a body that is not an object", () => {
    for (const body of [undefined, null, "Contoso", 42, [{ name: "Contoso" }]]) {
      assert.deepEqual(problemsOf(parseCreateOrg(body)), [
        { field: "body", reason: "must be a JSON object" },
      ]);
    }
  });

  it("names unknown fields, and explains that credentials come after creation", () => {
    const problems = problemsOf(parseCreateOrg({ name: "Contoso", colour: "red", tenantId: TENANT }));
    assert.deepEqual(fields(problems), ["colour", "tenantId"]);
    assert.match(problems.find((p) => p.field === "colour")!.reason, /not a known field/);
    assert.match(problems.find((p) => p.field === "tenantId")!.reason, /PATCH/);
  });

  it("lists every bad field at once", () => {
    const problems = problemsOf(
      parseCreateOrg({ name: "", webhookBaseUrl: "ftp://x", expectedServiceUserUpn: "nobody", extra: 1 }),
    );
    assert.deepEqual(fields(problems), ["expectedServiceUserUpn", "extra", "name", "webhookBaseUrl"]);
  });
});

describe("parseUpdateOrg", () => {
  it("accepts every field and normalises it", () => {
    assert.deepEqual(
      valueOf(
        parseUpdateOrg({
          name: "Contoso Ltd",
          tenantId: TENANT,
          clientId: ` ${CLIENT} `,
          clientSecret: `${SECRET}\n`,
          clientSecretExpiresAt: "2027-05-31T00:00:00+02:00",
          webhookBaseUrl: "http://localhost:8080/",
          expectedServiceUserUpn: "svc@contoso",
        }),
      ),
      {
        name: "Contoso Ltd",
        tenantId: TENANT.toLowerCase(),
        clientId: CLIENT,
        clientSecret: SECRET,
        clientSecretExpiresAt: Date.parse("2027-05-30T22:00:00Z"),
        webhookBaseUrl: "http://localhost:8080",
        expectedServiceUserUpn: "svc@contoso",
      },
    );
  });

  it("treats an empty body as no change, and null as clearing", () => {
    assert.deepEqual(valueOf(parseUpdateOrg({})), {});
    assert.deepEqual(
      valueOf(
        parseUpdateOrg({
          tenantId: null,
          clientId: null,
          clientSecret: null,
          clientSecretExpiresAt: null,
          webhookBaseUrl: null,
          expectedServiceUserUpn: null,
        }),
      ),
      {
        tenantId: null,
        clientId: null,
        clientSecret: null,
        clientSecretExpiresAt: null,
        webhookBaseUrl: null,
        expectedServiceUserUpn: null,
      },
    );
    assert.deepEqual(fields(problemsOf(parseUpdateOrg({ name: null }))), ["name"]);
  });

  it("rejects the personal-accounts tenant with a reason that says so", () => {
    for (const tenantId of [CONSUMER_TENANT_ID, CONSUMER_TENANT_ID.toUpperCase()]) {
      const [problem, ...rest] = problemsOf(parseUpdateOrg({ tenantId }));
      assert.equal(rest.length, 0);
      assert.equal(problem!.field, "tenantId");
      assert.match(problem!.reason, /personal Microsoft accounts/);
    }
  });

  it("rejects tenant aliases and non-GUIDs", () => {
    for (const tenantId of [
      "common",
      "organizations",
      "consumers",
      "contoso.onmicrosoft.com",
      "",
      5,
      TENANT.slice(1),
    ]) {
      assert.deepEqual(fields(problemsOf(parseUpdateOrg({ tenantId }))), ["tenantId"], String(tenantId));
    }
    assert.match(problemsOf(parseUpdateOrg({ tenantId: "common" }))[0]!.reason, /not common/);
  });

  it("requires a GUID client id", () => {
    for (const clientId of ["my-app", `{${CLIENT}}`, CLIENT.replace(/-/g, ""), 1, true]) {
      assert.deepEqual(fields(problemsOf(parseUpdateOrg({ clientId }))), ["clientId"], String(clientId));
    }
  });

  it("requires a non-empty client secret of at most 1024 characters", () => {
    assert.equal(valueOf(parseUpdateOrg({ clientSecret: "s".repeat(1024) })).clientSecret?.length, 1024);
    for (const clientSecret of ["", "  \n", "s".repeat(1025), 12345, { value: SECRET }, "ab\u0000cd"]) {
      assert.deepEqual(fields(problemsOf(parseUpdateOrg({ clientSecret }))), ["clientSecret"]);
    }
  });

  it("accepts ISO-8601 date-times with a zone only, and real calendar dates", () => {
    for (const [text, expected] of [
      ["2027-05-31T00:00:00Z", "2027-05-31T00:00:00.000Z"],
      ["2027-05-31T00:00Z", "2027-05-31T00:00:00.000Z"],
      ["2027-05-31t12:30:15.250z", "2027-05-31T12:30:15.250Z"],
      ["2028-02-29T10:00:00-05:00", "2028-02-29T15:00:00.000Z"],
    ] as const) {
      const value = valueOf(parseUpdateOrg({ clientSecretExpiresAt: text }));
      assert.equal(new Date(value.clientSecretExpiresAt!).toISOString(), expected, text);
    }
    for (const bad of [
      "2027-05-31",
      "2027-05-31T00:00:00",
      "31/05/2027",
      "2027-02-30T00:00:00Z",
      "2027-02-29T00:00:00Z",
      "2027-13-01T00:00:00Z",
      "2027-05-31T24:00:00Z",
      "2027-05-31T00:00:00+25:00",
      "tomorrow",
      1811808000000,
    ]) {
      assert.deepEqual(
        fields(problemsOf(parseUpdateOrg({ clientSecretExpiresAt: bad }))),
        ["clientSecretExpiresAt"],
        String(bad),
      );
    }
  });

  it("requires an absolute https webhook URL (http for localhost) without query or fragment", () => {
    for (const ok of [
      "https://relay.contoso.com",
      "https://relay.contoso.com:8443/hooks",
      "http://127.0.0.1:9000",
      "http://[::1]:9000",
    ]) {
      assert.equal(valueOf(parseUpdateOrg({ webhookBaseUrl: ok })).webhookBaseUrl, ok);
    }
    for (const bad of [
      "relay.contoso.com",
      "/api/graph",
      "http://relay.contoso.com",
      "ftp://relay.contoso.com",
      "https://relay.contoso.com/?a=1",
      "https://relay.contoso.com/?",
      "https://relay.contoso.com/#x",
      "https://user:pw@relay.contoso.com",
      "",
      `https://relay.contoso.com/${"a".repeat(2100)}`,
      7,
    ]) {
      assert.deepEqual(
        fields(problemsOf(parseUpdateOrg({ webhookBaseUrl: bad }))),
        ["webhookBaseUrl"],
        String(bad),
      );
    }
  });

  it("requires a UPN that looks like name@domain", () => {
    for (const bad of ["svc", "@contoso.com", "svc@", "svc@@contoso.com", "s vc@contoso.com", 3]) {
      assert.deepEqual(fields(problemsOf(parseUpdateOrg({ expectedServiceUserUpn: bad }))), [
        "expectedServiceUserUpn",
      ]);
    }
  });

  it("lists every bad field, unknown ones by name, and never repeats a value", () => {
    const secretish = `${SECRET}-but-too-long-${"z".repeat(1100)}`;
    const problems = problemsOf(
      parseUpdateOrg({
        name: "",
        tenantId: CONSUMER_TENANT_ID,
        clientId: "not-a-guid",
        clientSecret: secretish,
        clientSecretExpiresAt: "someday",
        webhookBaseUrl: "http://relay.contoso.com",
        expectedServiceUserUpn: "nobody",
        client_secret: SECRET,
      }),
    );
    assert.deepEqual(fields(problems), [
      "clientId",
      "clientSecret",
      "clientSecretExpiresAt",
      "client_secret",
      "expectedServiceUserUpn",
      "name",
      "tenantId",
      "webhookBaseUrl",
    ]);
    const text = JSON.stringify(problems);
    for (const value of [SECRET, "not-a-guid", "someday", "relay.contoso.com", "nobody"]) {
      assert.ok(!text.includes(value), `a reason repeats ${value}`);
    }
  });
});
