import { createHash, randomBytes } from "node:crypto";
import type { Emulator } from "../../emulator/index.ts";
import type { Org } from "./emulator-setup.ts";
import { httpRequest } from "./http-request.ts";

export const RELAY_SCOPES =
  "User.Read Chat.Read Chat.ReadBasic ChatMessage.Read openid offline_access profile";

export interface Tokens {
  access_token: string;
  refresh_token: string;
  id_token: string;
  expires_in: number;
  [key: string]: unknown;
}

/** The authorization-code flow with PKCE over raw HTTP, as any OAuth client would run it. */
export async function signIn(
  emu: Emulator,
  org: Org,
  options: { scope?: string; nonce?: string } = {},
): Promise<Tokens> {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const authorize = new URL(`${emu.url}/${org.tenantId}/oauth2/v2.0/authorize`);
  const params = {
    client_id: org.clientId,
    response_type: "code",
    redirect_uri: org.redirectUri,
    scope: options.scope ?? RELAY_SCOPES,
    state: "state-1",
    nonce: options.nonce ?? "nonce-1",
    code_challenge: challenge,
    code_challenge_method: "S256",
    prompt: "select_account",
    login_hint: org.serviceUser.userPrincipalName,
  };
  for (const [k, v] of Object.entries(params)) authorize.searchParams.set(k, v);
  const redirect = await httpRequest(authorize.toString(), { ca: emu.caPem });
  if (redirect.status !== 302) throw new Error(`authorize -> ${redirect.status} ${redirect.text}`);
  const code = new URL(String(redirect.headers.location)).searchParams.get("code")!;
  const token = await httpRequest(`${emu.url}/${org.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: org.clientId,
      client_secret: org.clientSecret,
      grant_type: "authorization_code",
      code,
      redirect_uri: org.redirectUri,
      code_verifier: verifier,
    }).toString(),
    ca: emu.caPem,
  });
  if (token.status !== 200) throw new Error(`token -> ${token.status} ${token.text}`);
  return token.json();
}

export function graph(emu: Emulator, accessToken: string, method: string, path: string, body?: object) {
  return httpRequest(`${emu.url}/v1.0${path}`, {
    method,
    headers: { authorization: `Bearer ${accessToken}` },
    ...(body ? { body } : {}),
    ca: emu.caPem,
  });
}
