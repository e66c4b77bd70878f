import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AADSTS_RULES,
  classifyTokenFailure,
  type FailureBucket,
  type TokenFailureInput,
} from "../../src/core/token-failure.ts";

interface Row {
  codes: number[];
  /** The `error` (and `suberror`, status) Entra sends with these codes: reference §1.7 and the emulator. */
  error: string;
  subError?: string;
  status?: number;
  bucket: FailureBucket;
}

// Every row of reference/entra-auth-and-stack.md §1.7. "A + H" and "A/H" rows are `admin` (no re-auth helps
// until an admin acts), "A/D" is `admin`, "D/A" is `defect`, as the brief decides.
const TABLE: Row[] = [
  { codes: [90055, 90024], error: "temporarily_unavailable", status: 429, bucket: "retry" },
  { codes: [50033, 90033, 50087, 50000], error: "temporarily_unavailable", status: 503, bucket: "retry" },
  { codes: [90006, 90090], error: "server_error", status: 500, bucket: "retry" },
  { codes: [50196], error: "invalid_request", status: 400, bucket: "defect" },
  { codes: [700082], error: "invalid_grant", status: 400, bucket: "reauth" },
  { codes: [70008], error: "invalid_grant", status: 400, bucket: "reauth" },
  { codes: [50173], error: "invalid_grant", status: 400, bucket: "reauth" },
  { codes: [70043], error: "invalid_grant", status: 400, bucket: "reauth" },
  {
    codes: [50076, 50079, 50078, 50074],
    error: "interaction_required",
    subError: "basic_action",
    status: 400,
    bucket: "reauth",
  },
  {
    codes: [53003, 53000, 53001, 530032],
    error: "interaction_required",
    subError: "message_only",
    status: 400,
    bucket: "admin",
  },
  { codes: [53003, 53000], error: "access_denied", status: 400, bucket: "admin" },
  {
    codes: [65001, 65004, 90094, 90008],
    error: "invalid_grant",
    subError: "consent_required",
    status: 400,
    bucket: "reauth",
  },
  { codes: [65001, 65004], error: "consent_required", status: 400, bucket: "reauth" },
  { codes: [50057, 50053, 50055, 50144, 50105], error: "invalid_grant", status: 400, bucket: "admin" },
  { codes: [50057], error: "invalid_grant", subError: "user_disabled", status: 400, bucket: "admin" },
  { codes: [50058], error: "login_required", status: 400, bucket: "reauth" },
  { codes: [50058], error: "interaction_required", status: 400, bucket: "reauth" },
  { codes: [50020, 50034, 16000, 500208], error: "invalid_request", status: 400, bucket: "reauth" },
  { codes: [7000215], error: "invalid_client", status: 401, bucket: "admin" },
  { codes: [7000222], error: "invalid_client", status: 401, bucket: "admin" },
  { codes: [700027, 50012, 500133], error: "invalid_client", status: 401, bucket: "admin" },
  { codes: [700016, 7000112, 70001], error: "unauthorized_client", status: 400, bucket: "admin" },
  { codes: [500011], error: "invalid_resource", status: 400, bucket: "admin" },
  { codes: [50011], error: "invalid_request", status: 400, bucket: "defect" },
  { codes: [70011, 28002, 28003, 700022], error: "invalid_scope", status: 400, bucket: "defect" },
  { codes: [54005, 501481, 50147], error: "invalid_grant", status: 400, bucket: "defect" },
  { codes: [700084], error: "invalid_grant", status: 400, bucket: "defect" },
  { codes: [9002313, 900144, 90014], error: "invalid_request", status: 400, bucket: "defect" },
];

const TOKEN_LIKE = /eyJ[A-Za-z0-9_-]{10,}|\b1\.A[A-Za-z0-9_-]{20,}/;

function check(input: TokenFailureInput, expected: FailureBucket) {
  const result = classifyTokenFailure(input);
  assert.equal(result.bucket, expected, `${JSON.stringify(input)} -> ${result.bucket} (${result.reason})`);
  assert.ok(result.reason.length > 10 && result.reason.length < 250, `reason: ${result.reason}`);
  assert.match(result.reason, /^[A-Z]/);
  assert.match(result.reason, /\.$/);
  assert.doesNotMatch(result.reason, TOKEN_LIKE);
  return result;
}

describe("classifyTokenFailure: every row of the AADSTS table (reference §1.7)", () => {
  for (const row of TABLE) {
    for (const code of row.codes) {
      const label = `AADSTS${code} (${row.error}${row.subError ? `/${row.subError}` : ""}) -> ${row.bucket}`;
      it(label, () => {
        const input: TokenFailureInput = { error: row.error, aadsts: code };
        if (row.status !== undefined) input.status = row.status;
        if (row.subError !== undefined) input.subError = row.subError;
        check(input, row.bucket);
      });
    }
  }

  it("the AADSTS number alone decides the non-transient rows (the OAuth error may be anything)", () => {
    for (const row of TABLE) {
      if (row.bucket === "retry") continue;
      for (const code of row.codes) {
        check({ status: 400, error: "invalid_grant", aadsts: code }, row.bucket);
        check({ status: 400, aadsts: code }, row.bucket);
      }
    }
  });

  it("transient AADSTS numbers retry even without a 429/5xx status", () => {
    for (const code of [90055, 90024, 50033, 90006, 90033, 90090, 50087, 50000]) {
      check({ aadsts: code }, "retry");
      check({ error: "temporarily_unavailable", aadsts: code }, "retry");
    }
  });

  it("covers every code the table lists", () => {
    const listed = new Set(TABLE.flatMap((r) => r.codes));
    for (const code of listed) assert.ok(AADSTS_RULES.has(code), `AADSTS${code} has a rule`);
  });

  it("says why a Conditional Access block goes to an admin, and reconnect for expired refresh tokens", () => {
    assert.match(
      check({ error: "interaction_required", aadsts: 53003 }, "admin").reason,
      /Conditional Access/,
    );
    assert.match(
      check({ status: 400, error: "invalid_grant", aadsts: 700082 }, "reauth").reason,
      /90 days.*reconnect the service user/,
    );
    assert.match(
      check({ status: 401, error: "invalid_client", aadsts: 7000222 }, "admin").reason,
      /secret has expired/,
    );
  });
});

describe("classifyTokenFailure: status, transport and error without a known AADSTS number", () => {
  it("HTTP 429 retries, whatever the body says", () => {
    check({ status: 429 }, "retry");
    check({ status: 429, error: "invalid_grant", aadsts: 700082 }, "retry");
  });

  it("HTTP 5xx retries", () => {
    for (const status of [500, 502, 503, 504]) check({ status }, "retry");
    check({ status: 503, error: "invalid_client", aadsts: 7000215 }, "retry");
  });

  it("a hang (timeout), a network failure and an unreadable body retry", () => {
    check({ transport: "timeout" }, "retry");
    check({ transport: "timeout", error: "network_error" }, "retry");
    check({ transport: "network", error: "network_error" }, "retry");
    check({ transport: "invalid_body", status: 200, error: "token_parsing_error" }, "retry");
  });

  it("temporarily_unavailable and server_error retry", () => {
    check({ status: 400, error: "temporarily_unavailable" }, "retry");
    check({ status: 400, error: "server_error" }, "retry");
  });

  it("invalid_grant with an unknown AADSTS number needs reauth", () => {
    check({ status: 400, error: "invalid_grant", aadsts: 123456 }, "reauth");
    check({ status: 400, error: "invalid_grant" }, "reauth");
  });

  it("interaction_required / consent_required / login_required need reauth; message_only needs an admin", () => {
    check({ status: 400, error: "interaction_required" }, "reauth");
    check({ status: 400, error: "interaction_required", subError: "basic_action" }, "reauth");
    check({ status: 400, error: "consent_required" }, "reauth");
    check({ status: 400, error: "login_required" }, "reauth");
    check({ status: 400, error: "interaction_required", subError: "message_only" }, "admin");
  });

  it("an empty cache (no account, no refresh token) needs reauth", () => {
    check({ error: "no_account" }, "reauth");
    check({ error: "no_tokens_found" }, "reauth");
    check({ status: 400, error: "invalid_grant", subError: "bad_token" }, "reauth");
  });

  it("client and tenant errors need an admin", () => {
    check({ status: 401, error: "invalid_client" }, "admin");
    check({ status: 400, error: "unauthorized_client" }, "admin");
    check({ status: 400, error: "invalid_resource" }, "admin");
    check({ status: 400, error: "invalid_tenant", aadsts: 90002 }, "admin");
    check({ status: 401 }, "admin");
  });

  it("malformed requests, bad scopes and client-side mismatches are defects", () => {
    check({ status: 400, error: "invalid_request" }, "defect");
    check({ status: 400, error: "invalid_scope" }, "defect");
    check({ status: 400, error: "unsupported_grant_type", aadsts: 70003 }, "defect");
    check({ status: 200, error: "nonce_mismatch" }, "defect");
    check({ status: 200, error: "state_mismatch" }, "defect");
  });

  it("anything unrecognised stops as a defect instead of looping", () => {
    check({}, "defect");
    check({ status: 400, error: "something_new" }, "defect");
    check({ status: 418 }, "defect");
  });
});
