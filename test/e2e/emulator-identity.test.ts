// The emulator's Entra ID identity platform over real HTTPS, checked against Microsoft's documented behaviour
// (reference/entra-auth-and-stack.md §1 and §2.5). Every org is seeded inside its test: the shared fake clock
// moves by months here, and client secrets expire 180 days after they are created.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, afterEach, before, test } from "node:test";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import type { Emulator } from "../../emulator/index.ts";
import { AADSTS_CATALOG } from "../../emulator/identity/entra-errors.ts";
import { control, seedOrg, startEmulator, type Org } from "../helpers/emulator-setup.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { httpRequest, type HttpResponse } from "../helpers/http-request.ts";
import { RELAY_SCOPES } from "../helpers/sign-in.ts";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let emu: Emulator;
const clock = new FakeClock();

before(async () => {
  emu = await startEmulator({ clock });
});
after(() => emu.close());
afterEach(async () => {
  await control(emu, "DELETE", "/_emulator/faults");
});

// ---------------------------------------------------------------- helpers

interface Pkce {
  verifier: string;
  challenge: string;
}

function pkce(): Pkce {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** An authorize URL with the parameters a confidential web client sends; `undefined` drops a parameter. */
function authorizeUrl(org: Org, overrides: Record<string, string | undefined> = {}, tenant = org.tenantId) {
  const url = new URL(`${emu.url}/${tenant}/oauth2/v2.0/authorize`);
  const params: Record<string, string | undefined> = {
    client_id: org.clientId,
    response_type: "code",
    redirect_uri: org.redirectUri,
    scope: RELAY_SCOPES,
    state: "state-1",
    nonce: "nonce-1",
    code_challenge: undefined,
    code_challenge_method: undefined,
    login_hint: org.serviceUser.userPrincipalName,
    ...overrides,
  };
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

const get = (url: string, timeoutMs?: number) =>
  httpRequest(url, { ca: emu.caPem, ...(timeoutMs ? { timeoutMs } : {}) });

const postForm = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  httpRequest(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields).toString(),
    ca: emu.caPem,
  });

/** The redirect's target split into "where" and "what", after checking it is a 302 with a Location. */
function redirectOf(res: HttpResponse): { target: string; params: URLSearchParams } {
  assert.equal(res.status, 302, `expected a redirect, got ${res.status} ${res.text.slice(0, 300)}`);
  const location = new URL(String(res.headers.location));
  return { target: `${location.origin}${location.pathname}`, params: location.searchParams };
}

/** Runs /authorize with login_hint (auto-consent) and returns the code. */
async function authorizeCode(
  org: Org,
  options: { scope?: string; nonce?: string; redirectUri?: string; pkce?: Pkce | null } = {},
): Promise<{ code: string; verifier: string | undefined }> {
  const challenge = options.pkce === null ? undefined : (options.pkce ?? pkce());
  const res = await get(
    authorizeUrl(org, {
      scope: options.scope ?? RELAY_SCOPES,
      nonce: options.nonce ?? "nonce-1",
      redirect_uri: options.redirectUri ?? org.redirectUri,
      code_challenge: challenge?.challenge,
      code_challenge_method: challenge ? "S256" : undefined,
    }),
  );
  const { params } = redirectOf(res);
  const code = params.get("code");
  assert.ok(code, `authorize returned no code: ${res.headers.location}`);
  return { code, verifier: challenge?.verifier };
}

/** POST /token for `org` with its client credentials (in the body unless `basic`). */
function tokenRequest(
  org: Org,
  fields: Record<string, string>,
  options: { secret?: string; basic?: boolean; timeoutMs?: number; tenant?: string } = {},
): Promise<HttpResponse> {
  const secret = options.secret ?? org.clientSecret;
  const credentials: Record<string, string> = options.basic
    ? {}
    : { client_id: org.clientId, client_secret: secret };
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (options.basic) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(org.clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`;
  }
  return httpRequest(`${emu.url}/${options.tenant ?? org.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers,
    body: new URLSearchParams({ ...credentials, ...fields }).toString(),
    ca: emu.caPem,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
}

function redeem(org: Org, code: string, verifier: string | undefined, redirectUri = org.redirectUri) {
  return tokenRequest(org, {
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri,
    ...(verifier !== undefined ? { code_verifier: verifier } : {}),
  });
}

const refresh = (org: Org, refreshToken: string, options: { timeoutMs?: number } = {}) =>
  tokenRequest(org, { grant_type: "refresh_token", refresh_token: refreshToken }, options);

interface TokenBody {
  token_type: string;
  scope: string;
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
  refresh_token: string;
  id_token: string;
  client_info: string;
}

function tokensOf(res: HttpResponse): TokenBody {
  assert.equal(res.status, 200, `token endpoint: ${res.status} ${res.text}`);
  return res.json<TokenBody>();
}

async function signInTokens(org: Org, options: { scope?: string; nonce?: string } = {}): Promise<TokenBody> {
  const { code, verifier } = await authorizeCode(org, options);
  return tokensOf(await redeem(org, code, verifier));
}

/**
 * Entra's error body, exactly: `error`, `error_description` = "AADSTSn: text\r\nTrace ID: ..\r\nCorrelation ID: ..
 * \r\nTimestamp: ..", `error_codes` [n], `timestamp` "yyyy-mm-dd hh:mm:ssZ", `trace_id`, `correlation_id`,
 * `error_uri` (https://learn.microsoft.com/entra/identity-platform/reference-error-codes, sample response).
 */
function assertEntraError(
  res: HttpResponse,
  expected: { status: number; error: string; aadsts: number; suberror?: string },
): Record<string, unknown> {
  assert.equal(res.status, expected.status, `status for AADSTS${expected.aadsts}: ${res.text}`);
  assert.match(String(res.headers["content-type"]), /^application\/json/);
  const body = res.json<Record<string, unknown>>();
  assert.equal(body.error, expected.error, res.text);
  assert.deepEqual(body.error_codes, [expected.aadsts]);
  const description = String(body.error_description);
  assert.ok(description.startsWith(`AADSTS${expected.aadsts}: `), description);
  assert.match(String(body.timestamp), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
  assert.match(String(body.trace_id), GUID);
  assert.match(String(body.correlation_id), GUID);
  assert.ok(
    description.endsWith(
      `\r\nTrace ID: ${body.trace_id}\r\nCorrelation ID: ${body.correlation_id}\r\nTimestamp: ${body.timestamp}`,
    ),
    `description ends with the trace, correlation and timestamp lines: ${JSON.stringify(description)}`,
  );
  assert.equal(body.error_uri, `https://login.microsoftonline.com/error?code=${expected.aadsts}`);
  if (expected.suberror !== undefined) assert.equal(body.suberror, expected.suberror);
  return body;
}

const unescapeHtml = (text: string) =>
  text
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&quot;", '"')
    .replaceAll("&#39;", "'")
    .replaceAll("&amp;", "&");

function attributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const [, name, value] of tag.matchAll(/([\w-]+)="([^"]*)"/g)) attrs[name!] = unescapeHtml(value!);
  return attrs;
}

interface HtmlForm {
  attrs: Record<string, string>;
  hidden: Record<string, string>;
  buttons: { name?: string; value?: string; text: string }[];
}

/** The forms of a page, by id, read the way a browser would submit them. */
function formsIn(html: string): Map<string, HtmlForm> {
  const forms = new Map<string, HtmlForm>();
  for (const [, formTag, inner] of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const attrs = attributes(formTag!);
    const hidden: Record<string, string> = {};
    for (const [, inputTag] of inner!.matchAll(/<input\b([^>]*)>/g)) {
      const input = attributes(inputTag!);
      if (input.type === "hidden" && input.name !== undefined) hidden[input.name] = input.value ?? "";
    }
    const buttons = [...inner!.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/g)].map(([, tag, text]) => {
      const button = attributes(tag!);
      return {
        ...(button.name !== undefined ? { name: button.name } : {}),
        ...(button.value !== undefined ? { value: button.value } : {}),
        text: text!,
      };
    });
    forms.set(attrs.id ?? `form${forms.size}`, { attrs, hidden, buttons });
  }
  return forms;
}

async function addFault(fault: Record<string, unknown>) {
  await control(emu, "POST", "/_emulator/faults", fault);
}

// ---------------------------------------------------------------- authorize

test("authorize: login_hint naming a tenant user with auto-consent redirects to the exact redirect URI with code and state", async () => {
  const org = await seedOrg(emu);
  const state = "opaque state/with spaces & = signs";
  const res = await get(authorizeUrl(org, { state }));
  const { target, params } = redirectOf(res);
  assert.equal(target, org.redirectUri);
  assert.ok(params.get("code"), "code");
  assert.equal(params.get("state"), state, "state is echoed byte for byte");
  assert.equal(params.get("error"), null);

  // UPNs compare case-insensitively, as at Entra.
  const upper = await get(authorizeUrl(org, { login_hint: org.serviceUser.userPrincipalName.toUpperCase() }));
  assert.ok(redirectOf(upper).params.get("code"));

  // A hint naming someone of another tenant signs nobody in: the account picker is shown instead.
  const other = await seedOrg(emu);
  const foreign = await get(authorizeUrl(org, { login_hint: other.serviceUser.userPrincipalName }));
  assert.equal(foreign.status, 200);
  assert.equal(foreign.headers.location, undefined);
});

test("authorize: without login_hint the sign-in page lists this tenant's users only, and its consent form yields a code", async () => {
  const org = await seedOrg(emu);
  const other = await seedOrg(emu);
  const { verifier, challenge } = pkce();
  const url = authorizeUrl(org, {
    login_hint: undefined,
    state: "s-consent",
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const page = await get(url);
  assert.equal(page.status, 200);
  assert.match(String(page.headers["content-type"]), /^text\/html/);
  for (const user of [org.serviceUser, org.caller]) assert.ok(page.text.includes(user.userPrincipalName));
  for (const user of [other.serviceUser, other.caller]) {
    assert.ok(
      !page.text.includes(user.userPrincipalName),
      `${user.userPrincipalName} leaked from another tenant`,
    );
    assert.ok(!page.text.includes(user.id));
  }

  const forms = formsIn(page.text);
  const consent = forms.get("consent");
  assert.ok(consent, "the page has a consent form");
  assert.equal(consent.attrs.method, "post");
  assert.equal(consent.hidden.emulator_action, "consent");
  assert.equal(consent.hidden.client_id, org.clientId, "the original parameters ride along");
  assert.deepEqual(
    consent.buttons
      .filter((b) => b.name === "emulator_user")
      .map((b) => b.value)
      .sort(),
    [org.serviceUser.id, org.caller.id].sort(),
  );

  // The browser posts the form back to the page's own URL, with the clicked account.
  const chosen = await postForm(url, { ...consent.hidden, emulator_user: org.caller.id });
  const { target, params } = redirectOf(chosen);
  assert.equal(target, org.redirectUri);
  assert.equal(params.get("state"), "s-consent");
  const tokens = tokensOf(await redeem(org, params.get("code")!, verifier));
  assert.equal(decodeJwt(tokens.id_token).oid, org.caller.id, "the chosen account is the one signed in");

  // Choosing another tenant's user through a forged form post yields no code.
  const forged = await postForm(url, { ...consent.hidden, emulator_user: other.caller.id });
  assert.notEqual(forged.status, 302);
  assert.equal(forged.headers.location, undefined);

  const cancel = forms.get("cancel");
  assert.ok(cancel, "the page has a cancel form");
  const cancelled = redirectOf(await postForm(url, cancel.hidden));
  assert.equal(cancelled.target, org.redirectUri);
  assert.equal(cancelled.params.get("error"), "access_denied");
  assert.match(cancelled.params.get("error_description") ?? "", /^AADSTS65004: /);
  assert.equal(cancelled.params.get("state"), "s-consent");
  assert.equal(cancelled.params.get("code"), null);
});

test("authorize: response_mode=form_post answers an auto-submitting form that posts code and state to the redirect URI", async () => {
  const org = await seedOrg(emu);
  const res = await get(authorizeUrl(org, { response_mode: "form_post", state: "fp-state" }));
  assert.equal(res.status, 200);
  assert.equal(res.headers.location, undefined, "form_post never redirects");
  assert.match(String(res.headers["content-type"]), /^text\/html/);
  const forms = [...formsIn(res.text).values()];
  assert.equal(forms.length, 1);
  const form = forms[0]!;
  assert.equal(form.attrs.method, "post");
  assert.equal(form.attrs.action, org.redirectUri);
  assert.ok(form.hidden.code, "code field");
  assert.equal(form.hidden.state, "fp-state");
  assert.match(res.text, /<script>[^<]*\.submit\(\)/, "the page submits itself");

  // The code it carries is a real one.
  const tokens = tokensOf(await redeem(org, form.hidden.code, undefined));
  assert.equal(decodeJwt(tokens.access_token).oid, org.serviceUser.id);
});

test("authorize: an unregistered or case-different redirect URI, an unknown client or tenant get an error page, never a redirect", async () => {
  const org = await seedOrg(emu);
  const cases: { name: string; url: string; aadsts: number }[] = [
    {
      name: "unregistered redirect URI",
      url: authorizeUrl(org, { redirect_uri: "https://attacker.example/callback" }),
      aadsts: 50011,
    },
    {
      name: "case-different redirect URI",
      url: authorizeUrl(org, { redirect_uri: org.redirectUri.replace("/callback", "/Callback") }),
      aadsts: 50011,
    },
    {
      name: "trailing slash added to the redirect URI",
      url: authorizeUrl(org, { redirect_uri: `${org.redirectUri}/` }),
      aadsts: 50011,
    },
    {
      name: "unknown client",
      url: authorizeUrl(org, { client_id: "11111111-2222-3333-4444-555555555555" }),
      aadsts: 700016,
    },
    {
      name: "unknown tenant",
      url: authorizeUrl(org, {}, "66666666-7777-8888-9999-000000000000"),
      aadsts: 90002,
    },
  ];
  for (const c of cases) {
    const res = await get(c.url);
    assert.equal(res.status, 400, c.name);
    assert.equal(res.headers.location, undefined, `${c.name}: no redirect`);
    assert.match(String(res.headers["content-type"]), /^text\/html/, c.name);
    assert.ok(res.text.includes(`AADSTS${c.aadsts}:`), `${c.name}: ${res.text}`);
    assert.ok(!/<form/.test(res.text), `${c.name}: nothing to submit anywhere`);
    assert.ok(!res.text.includes("attacker.example/callback?"), c.name);
  }
});

test("authorize: prompt=none answers login_required and a misspelled scope invalid_scope, both at the redirect URI with state", async () => {
  const org = await seedOrg(emu);
  const silent = redirectOf(await get(authorizeUrl(org, { prompt: "none", state: "silent" })));
  assert.equal(silent.target, org.redirectUri);
  assert.equal(silent.params.get("error"), "login_required");
  assert.match(silent.params.get("error_description") ?? "", /^AADSTS50058: /);
  assert.equal(silent.params.get("state"), "silent");
  assert.equal(silent.params.get("code"), null);

  // `ChatMessages.Read` (plural) is not a Microsoft Graph permission (graph-change-notifications.md §8.2).
  const misspelled = redirectOf(
    await get(authorizeUrl(org, { scope: "User.Read ChatMessages.Read openid offline_access", state: "sc" })),
  );
  assert.equal(misspelled.target, org.redirectUri);
  assert.equal(misspelled.params.get("error"), "invalid_scope");
  assert.match(misspelled.params.get("error_description") ?? "", /^AADSTS70011: .*ChatMessages\.Read/s);
  assert.equal(misspelled.params.get("state"), "sc");
  assert.equal(misspelled.params.get("code"), null);

  // The real permission, and the Graph resource prefix, are accepted.
  const prefixed = redirectOf(
    await get(
      authorizeUrl(org, { scope: "https://graph.microsoft.com/ChatMessage.Read openid offline_access" }),
    ),
  );
  assert.ok(prefixed.params.get("code"));
});

test("authorize: parameters msal adds (client_info, x-client-*, claims, client-request-id ...) are ignored", async () => {
  const org = await seedOrg(emu);
  const { verifier, challenge } = pkce();
  const res = await get(
    authorizeUrl(org, {
      code_challenge: challenge,
      code_challenge_method: "S256",
      prompt: "select_account",
      response_mode: "query",
      client_info: "1",
      "x-client-SKU": "msal.js.node",
      "x-client-VER": "7.2.3",
      "x-client-OS": "linux",
      "x-client-CPU": "x64",
      "x-app-name": "relay",
      "x-app-ver": "0.1.0",
      "client-request-id": "0f0e0d0c-0b0a-0908-0706-050403020100",
      claims: JSON.stringify({ access_token: { xms_cc: { values: ["CP1"] } } }),
      clidata: "opaque",
      domain_hint: "organizations",
    }),
  );
  const { target, params } = redirectOf(res);
  assert.equal(target, org.redirectUri);
  assert.equal(params.get("error"), null, String(params.get("error_description")));
  tokensOf(await redeem(org, params.get("code")!, verifier));
});

// ---------------------------------------------------------------- token endpoint

test("token: a code is single-use (AADSTS54005 on the second redemption) and the answer is not cacheable", async () => {
  const org = await seedOrg(emu);
  const { code, verifier } = await authorizeCode(org);
  const first = await redeem(org, code, verifier);
  tokensOf(first);
  assert.match(String(first.headers["cache-control"]), /no-store/);
  assertEntraError(await redeem(org, code, verifier), { status: 400, error: "invalid_grant", aadsts: 54005 });
});

test("token: a wrong or missing code_verifier is AADSTS501481; a different redirect_uri is refused", async () => {
  const org = await seedOrg(emu);
  const wrong = await authorizeCode(org);
  assertEntraError(await redeem(org, wrong.code, pkce().verifier), {
    status: 400,
    error: "invalid_grant",
    aadsts: 501481,
  });
  const missing = await authorizeCode(org);
  assertEntraError(await redeem(org, missing.code, undefined), {
    status: 400,
    error: "invalid_grant",
    aadsts: 501481,
  });

  // Another registered URI, but not the one the code was issued for.
  const second = "https://relay.example.test/api/org/org-2/ms-teams/callback";
  await control(emu, "PATCH", `/_emulator/tenants/${org.tenantId}/apps/${org.clientId}`, {
    redirectUris: [org.redirectUri, second],
  });
  const code = await authorizeCode(org);
  const res = await redeem(org, code.code, code.verifier, second);
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json().error, "invalid_grant");
  assertEntraError(res, { status: 400, error: "invalid_grant", aadsts: res.json().error_codes[0] });
});

test("token: a code lives 10 minutes (AADSTS70008 after that)", async () => {
  const org = await seedOrg(emu);
  const fresh = await authorizeCode(org);
  clock.advance(10 * MINUTE - 1000);
  tokensOf(await redeem(org, fresh.code, fresh.verifier));

  const stale = await authorizeCode(org);
  clock.advance(10 * MINUTE + 1000);
  assertEntraError(await redeem(org, stale.code, stale.verifier), {
    status: 400,
    error: "invalid_grant",
    aadsts: 70008,
  });
});

test("token: a wrong client secret is 401 invalid_client AADSTS7000215, in the body or in Basic auth", async () => {
  const org = await seedOrg(emu);
  const { code, verifier } = await authorizeCode(org);
  const fields = {
    grant_type: "authorization_code",
    code,
    redirect_uri: org.redirectUri,
    code_verifier: verifier!,
  };
  const wrongSecret = `${org.clientSecret.slice(0, -1)}x`;
  assertEntraError(await tokenRequest(org, fields, { secret: wrongSecret }), {
    status: 401,
    error: "invalid_client",
    aadsts: 7000215,
  });
  assertEntraError(await tokenRequest(org, fields, { secret: wrongSecret, basic: true }), {
    status: 401,
    error: "invalid_client",
    aadsts: 7000215,
  });
  // The right secret in Basic auth (client_secret_basic, advertised in discovery) is accepted.
  const fresh = await authorizeCode(org);
  tokensOf(
    await tokenRequest(org, { ...fields, code: fresh.code, code_verifier: fresh.verifier! }, { basic: true }),
  );
});

test("token: an expired client secret is 401 invalid_client AADSTS7000222", async () => {
  const org = await seedOrg(emu);
  const tokens = await signInTokens(org);
  await control(emu, "PATCH", `/_emulator/tenants/${org.tenantId}/apps/${org.clientId}`, {
    secretExpiresAt: new Date(clock.now() - 1000).toISOString(),
  });
  assertEntraError(await refresh(org, tokens.refresh_token), {
    status: 401,
    error: "invalid_client",
    aadsts: 7000222,
  });
  const { code, verifier } = await authorizeCode(org);
  assertEntraError(await redeem(org, code, verifier), {
    status: 401,
    error: "invalid_client",
    aadsts: 7000222,
  });
});

test("token: refresh rotates the refresh token and the old one keeps working", async () => {
  const org = await seedOrg(emu);
  const first = await signInTokens(org);
  const second = tokensOf(await refresh(org, first.refresh_token));
  assert.ok(second.refresh_token);
  assert.notEqual(second.refresh_token, first.refresh_token, "rotated");
  assert.notEqual(second.access_token, first.access_token);
  const again = tokensOf(await refresh(org, first.refresh_token));
  assert.notEqual(again.refresh_token, second.refresh_token);
  tokensOf(await refresh(org, second.refresh_token));
});

test("token: a refresh token unused for 90 days is AADSTS700082, while one used at day 89 slides the window", async () => {
  const org = await seedOrg(emu);
  const used = await signInTokens(org);
  const idle = await signInTokens(org);

  clock.advance(89 * DAY);
  const rotated = tokensOf(await refresh(org, used.refresh_token));

  clock.advance(2 * DAY); // day 91
  assertEntraError(await refresh(org, idle.refresh_token), {
    status: 400,
    error: "invalid_grant",
    aadsts: 700082,
  });
  // The token issued at day 89 has a fresh 90-day window.
  const later = tokensOf(await refresh(org, rotated.refresh_token));

  clock.advance(88 * DAY); // day 179, 88 days after `later` was issued
  tokensOf(await refresh(org, later.refresh_token));
});

test("token: the response carries expires_in (3600..5400, varying), ext_expires_in, scope and client_info", async () => {
  const org = await seedOrg(emu);
  const first = await signInTokens(org);
  const responses = [first];
  for (let i = 0; i < 6; i += 1) responses.push(tokensOf(await refresh(org, first.refresh_token)));
  for (const r of responses) {
    assert.equal(r.token_type, "Bearer");
    assert.ok(
      Number.isInteger(r.expires_in) && r.expires_in >= 3600 && r.expires_in <= 5400,
      `${r.expires_in}`,
    );
    assert.equal(typeof r.ext_expires_in, "number");
    assert.ok(r.ext_expires_in >= r.expires_in);
    const claims = decodeJwt(r.access_token);
    assert.equal(
      claims.exp! - claims.iat!,
      r.expires_in,
      "the access token lives as long as expires_in says",
    );
    for (const scope of ["User.Read", "Chat.Read", "Chat.ReadBasic", "ChatMessage.Read"]) {
      assert.ok(r.scope.split(" ").includes(scope), `${scope} in scope '${r.scope}'`);
    }
    assert.ok(r.refresh_token && r.id_token);
    assert.deepEqual(JSON.parse(Buffer.from(r.client_info, "base64url").toString("utf8")), {
      uid: org.serviceUser.id,
      utid: org.tenantId,
    });
    assert.ok(!/[+/=]/.test(r.client_info), "client_info is base64url");
  }
  assert.ok(new Set(responses.map((r) => r.expires_in)).size > 1, "lifetimes vary across issuances");
});

test("token: the ID token is RS256, verifies against the emulator's JWKS and has Entra's v2 claims; discovery points at the emulator", async () => {
  const org = await seedOrg(emu);
  const tokens = await signInTokens(org, { nonce: "n-0123456789" });
  const header = decodeProtectedHeader(tokens.id_token);
  assert.equal(header.alg, "RS256");
  const issuer = `https://login.microsoftonline.com/${org.tenantId}/v2.0`;

  const config = (await get(`${emu.url}/${org.tenantId}/v2.0/.well-known/openid-configuration`)).json();
  assert.equal(config.issuer, issuer);
  assert.equal(config.authorization_endpoint, `${emu.url}/${org.tenantId}/oauth2/v2.0/authorize`);
  assert.equal(config.token_endpoint, `${emu.url}/${org.tenantId}/oauth2/v2.0/token`);
  assert.equal(config.jwks_uri, `${emu.url}/${org.tenantId}/discovery/v2.0/keys`);
  assert.ok(config.id_token_signing_alg_values_supported.includes("RS256"));
  assert.ok(config.response_modes_supported.includes("form_post"));

  for (const jwksUrl of [config.jwks_uri, `${emu.url}/common/discovery/v2.0/keys`]) {
    const jwksRes = await get(jwksUrl);
    assert.equal(jwksRes.status, 200, jwksUrl);
    const jwks = jwksRes.json<JSONWebKeySet>();
    assert.ok(
      jwks.keys.some((k) => k.kid === header.kid),
      `${jwksUrl} lists the signing key ${header.kid}`,
    );
    const { payload } = await jwtVerify(tokens.id_token, createLocalJWKSet(jwks), {
      algorithms: ["RS256"],
      issuer,
      audience: org.clientId,
      currentDate: new Date(clock.now()),
    });
    assert.equal(payload.aud, org.clientId);
    assert.equal(payload.iss, issuer);
    assert.equal(payload.tid, org.tenantId);
    assert.equal(payload.oid, org.serviceUser.id);
    assert.equal(typeof payload.sub, "string");
    assert.notEqual(payload.sub, payload.oid, "sub is pairwise, not the object id");
    assert.equal(payload.preferred_username, org.serviceUser.userPrincipalName);
    assert.equal(payload.name, "Emergency Relay Service");
    assert.equal(payload.nonce, "n-0123456789");
    assert.equal(payload.ver, "2.0");
    assert.ok(
      typeof payload.iat === "number" && typeof payload.exp === "number" && payload.exp > payload.iat,
    );
  }

  // The check is real: a tampered signature does not verify against the same keys.
  const keys = (await get(`${emu.url}/common/discovery/v2.0/keys`)).json<JSONWebKeySet>();
  const tampered = `${tokens.id_token.slice(0, tokens.id_token.lastIndexOf(".") + 1)}${Buffer.from("forged").toString("base64url")}`;
  await assert.rejects(jwtVerify(tampered, createLocalJWKSet(keys), { currentDate: new Date(clock.now()) }));

  const orgs = (await get(`${emu.url}/organizations/v2.0/.well-known/openid-configuration`)).json();
  assert.equal(orgs.token_endpoint, `${emu.url}/organizations/oauth2/v2.0/token`);
});

// ---------------------------------------------------------------- error shapes and faults

test("errors: malformed requests and unknown tenants answer in Entra's error shape", async () => {
  const org = await seedOrg(emu);
  const json = await httpRequest(`${emu.url}/${org.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    body: { grant_type: "refresh_token", refresh_token: "x", client_id: org.clientId },
    ca: emu.caPem,
  });
  assertEntraError(json, { status: 400, error: "invalid_request", aadsts: 900144 });

  assertEntraError(await tokenRequest(org, { refresh_token: "x" }), {
    status: 400,
    error: "invalid_request",
    aadsts: 900144,
  });
  assertEntraError(await tokenRequest(org, { grant_type: "password", username: "a", password: "b" }), {
    status: 400,
    error: "unsupported_grant_type",
    aadsts: 70003,
  });
  assertEntraError(await refresh(org, "0.Anot-a-real-token"), {
    status: 400,
    error: "invalid_grant",
    aadsts: 9002313,
  });
  assertEntraError(
    await tokenRequest(
      org,
      { grant_type: "refresh_token", refresh_token: "x" },
      { tenant: "no-such-tenant.example" },
    ),
    { status: 400, error: "invalid_tenant", aadsts: 90002 },
  );
  assertEntraError(await get(`${emu.url}/no-such-tenant.example/v2.0/.well-known/openid-configuration`), {
    status: 400,
    error: "invalid_tenant",
    aadsts: 90002,
  });
});

test("faults: an injected AADSTS 50076 is interaction_required with suberror basic_action", async () => {
  const org = await seedOrg(emu);
  const tokens = await signInTokens(org);
  await addFault({ target: "token", kind: "aadsts", aadsts: 50076 });
  const body = assertEntraError(await refresh(org, tokens.refresh_token), {
    status: 400,
    error: "interaction_required",
    aadsts: 50076,
    suberror: "basic_action",
  });
  assert.ok(Object.hasOwn(body, "suberror"));
  tokensOf(await refresh(org, tokens.refresh_token));
});

// Expected statuses and `error` values come from Microsoft's pages (entra-auth-and-stack.md §1.7), not from the catalog.
const DOCUMENTED_TOKEN_FAILURES: { aadsts: number; status: number; error: string; suberror?: string }[] = [
  { aadsts: 700082, status: 400, error: "invalid_grant" },
  { aadsts: 70008, status: 400, error: "invalid_grant" },
  { aadsts: 50173, status: 400, error: "invalid_grant" },
  { aadsts: 70043, status: 400, error: "invalid_grant" },
  { aadsts: 65001, status: 400, error: "invalid_grant", suberror: "consent_required" },
  { aadsts: 54005, status: 400, error: "invalid_grant" },
  { aadsts: 7000215, status: 401, error: "invalid_client" },
  { aadsts: 7000222, status: 401, error: "invalid_client" },
  { aadsts: 50196, status: 400, error: "invalid_request" },
  { aadsts: 90055, status: 429, error: "temporarily_unavailable" },
  { aadsts: 50076, status: 400, error: "interaction_required", suberror: "basic_action" },
  { aadsts: 53003, status: 400, error: "interaction_required" },
  { aadsts: 700016, status: 400, error: "unauthorized_client" },
  { aadsts: 500011, status: 400, error: "invalid_resource" },
  { aadsts: 70011, status: 400, error: "invalid_scope" },
];

test("faults: each AADSTS class injected on the token endpoint answers its status and body, once", async () => {
  const org = await seedOrg(emu);
  const tokens = await signInTokens(org);
  for (const expected of DOCUMENTED_TOKEN_FAILURES) {
    await addFault({ target: "token", kind: "aadsts", aadsts: expected.aadsts });
    assertEntraError(await refresh(org, tokens.refresh_token), expected);
  }
  // Every catalogued code yields a well-formed body with an OAuth `error` and an error status.
  for (const aadsts of Object.keys(AADSTS_CATALOG).map(Number)) {
    await addFault({ target: "token", kind: "aadsts", aadsts });
    const res = await refresh(org, tokens.refresh_token);
    assert.ok(res.status >= 400 && res.status < 600, `AADSTS${aadsts}: ${res.status}`);
    assertEntraError(res, { status: res.status, error: String(res.json().error), aadsts });
    assert.match(String(res.json().error), /^[a-z_]+$/);
  }
  // Each fault applied once: the next call goes through.
  tokensOf(await refresh(org, tokens.refresh_token));
});

test("faults: HTTP 429 with Retry-After and 503 on the token endpoint", async () => {
  const org = await seedOrg(emu);
  const tokens = await signInTokens(org);
  await addFault({ target: "token", kind: "http", status: 429, retryAfter: 7 });
  const throttled = await refresh(org, tokens.refresh_token);
  assert.equal(throttled.headers["retry-after"], "7");
  assertEntraError(throttled, {
    status: 429,
    error: "temporarily_unavailable",
    aadsts: throttled.json().error_codes[0],
  });

  await addFault({ target: "token", kind: "http", status: 503 });
  const unavailable = await refresh(org, tokens.refresh_token);
  assertEntraError(unavailable, {
    status: 503,
    error: "temporarily_unavailable",
    aadsts: unavailable.json().error_codes[0],
  });
  tokensOf(await refresh(org, tokens.refresh_token));
});

test("faults: a hang leaves the client to time out, and the next call works", async () => {
  const org = await seedOrg(emu);
  const tokens = await signInTokens(org);
  await addFault({ target: "token", kind: "hang" });
  const started = Date.now();
  await assert.rejects(refresh(org, tokens.refresh_token, { timeoutMs: 500 }), /timeout/);
  assert.ok(Date.now() - started >= 450, "the emulator did not answer before the client gave up");
  tokensOf(await refresh(org, tokens.refresh_token, { timeoutMs: 5000 }));
});

test("faults: times: 2 applies to exactly two calls", async () => {
  const org = await seedOrg(emu);
  const tokens = await signInTokens(org);
  await control(emu, "POST", "/_emulator/faults", {
    target: "token",
    kind: "aadsts",
    aadsts: 50196,
    times: 2,
  });
  for (let i = 0; i < 2; i += 1) {
    assertEntraError(await refresh(org, tokens.refresh_token), {
      status: 400,
      error: "invalid_request",
      aadsts: 50196,
    });
  }
  tokensOf(await refresh(org, tokens.refresh_token));
  tokensOf(await refresh(org, tokens.refresh_token));
});
