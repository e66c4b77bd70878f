// Entra ID error bodies. Shape: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
// and the token-endpoint error table in https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow.

export interface EntraErrorSpec {
  error: string;
  status: number;
  description: string;
  suberror?: string;
}

/** The AADSTS codes a long-running delegated integration meets (reference: entra-auth-and-stack.md §1.7). */
export const AADSTS_CATALOG: Record<number, EntraErrorSpec> = {
  50000: {
    error: "temporarily_unavailable",
    status: 503,
    description: "There was an error issuing a token or an issue with our sign-in service.",
  },
  50033: {
    error: "temporarily_unavailable",
    status: 503,
    description: "A transient error has occurred. Try again.",
  },
  90006: { error: "server_error", status: 500, description: "An internal error occurred." },
  90033: {
    error: "temporarily_unavailable",
    status: 503,
    description: "A transient error has occurred. Try again.",
  },
  90055: {
    error: "temporarily_unavailable",
    status: 429,
    description: "TenantThrottlingError - There are too many incoming requests.",
  },
  90024: {
    error: "temporarily_unavailable",
    status: 429,
    description: "RequestBudgetExceededError - A transient error has occurred. Try again.",
  },
  50196: {
    error: "invalid_request",
    status: 400,
    description: "LoopDetected - A client loop has been detected.",
  },
  700082: {
    error: "invalid_grant",
    status: 400,
    description:
      "The refresh token has expired due to inactivity. The token was issued on a date and was inactive for 90.00:00:00.",
  },
  70008: {
    error: "invalid_grant",
    status: 400,
    description:
      "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
  },
  50173: {
    error: "invalid_grant",
    status: 400,
    description:
      "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
  },
  70043: {
    error: "invalid_grant",
    status: 400,
    description:
      "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.",
  },
  50076: {
    error: "interaction_required",
    status: 400,
    suberror: "basic_action",
    description:
      "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.",
  },
  50079: {
    error: "interaction_required",
    status: 400,
    suberror: "basic_action",
    description:
      "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access the resource.",
  },
  53003: {
    error: "interaction_required",
    status: 400,
    suberror: "message_only",
    description:
      "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
  },
  53000: {
    error: "interaction_required",
    status: 400,
    suberror: "message_only",
    description:
      "Device is not in required device state: compliant. Conditional Access policy requires a compliant device.",
  },
  65001: {
    error: "invalid_grant",
    status: 400,
    suberror: "consent_required",
    description:
      "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.",
  },
  90094: { error: "invalid_grant", status: 400, description: "The grant requires admin permission." },
  50057: {
    error: "invalid_grant",
    status: 400,
    suberror: "user_disabled",
    description: "The user account is disabled.",
  },
  50053: {
    error: "invalid_grant",
    status: 400,
    description:
      "Account is locked because the user tried to sign in too many times with an incorrect user ID or password.",
  },
  50055: { error: "invalid_grant", status: 400, description: "The password is expired." },
  50105: {
    error: "invalid_grant",
    status: 400,
    description: "The signed in user is not assigned to a role for the application.",
  },
  50020: {
    error: "invalid_request",
    status: 400,
    description:
      "User account from identity provider does not exist in tenant and cannot access the application.",
  },
  7000215: {
    error: "invalid_client",
    status: 401,
    description:
      "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
  },
  7000222: {
    error: "invalid_client",
    status: 401,
    description:
      "The provided client secret keys for app are expired. Visit the Azure portal to create new keys for your app.",
  },
  700016: {
    error: "unauthorized_client",
    status: 400,
    description:
      "Application with identifier was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
  },
  7000112: { error: "unauthorized_client", status: 400, description: "Application is disabled." },
  500011: {
    error: "invalid_resource",
    status: 400,
    description: "The resource principal was not found in the tenant.",
  },
  50011: {
    error: "invalid_request",
    status: 400,
    description:
      "The redirect URI specified in the request does not match the redirect URIs configured for the application.",
  },
  70011: {
    error: "invalid_scope",
    status: 400,
    description:
      "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid.",
  },
  54005: {
    error: "invalid_grant",
    status: 400,
    description:
      "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
  },
  501481: {
    error: "invalid_grant",
    status: 400,
    description: "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
  },
  900144: {
    error: "invalid_request",
    status: 400,
    description: "The request body must contain the following parameter: 'grant_type'.",
  },
  90014: {
    error: "invalid_request",
    status: 400,
    description: "The request body must contain a required field.",
  },
  9002313: {
    error: "invalid_request",
    status: 400,
    description: "Invalid request. Request is malformed or invalid.",
  },
  900971: { error: "invalid_request", status: 400, description: "No reply address provided." },
  90002: {
    error: "invalid_tenant",
    status: 400,
    description:
      "Tenant not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
  },
  70000: {
    error: "invalid_grant",
    status: 400,
    description: "The request was denied because one or more scopes requested are unauthorized or expired.",
  },
  7000218: {
    error: "invalid_client",
    status: 401,
    description:
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  },
};

export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
  suberror?: string;
}

export function entraErrorBody(
  aadsts: number,
  nowMs: number,
  ids: { traceId: string; correlationId: string },
  override: { detail?: string; error?: string } = {},
): { status: number; body: EntraErrorBody } {
  const spec = AADSTS_CATALOG[aadsts] ?? { error: "invalid_request", status: 400, description: "Error." };
  // "2016-01-09 02:02:12Z", and CRLF before each trailer line, as in reference-error-codes' sample response.
  const timestamp = new Date(nowMs)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "Z");
  const description = `AADSTS${aadsts}: ${override.detail ?? spec.description}\r\nTrace ID: ${ids.traceId}\r\nCorrelation ID: ${ids.correlationId}\r\nTimestamp: ${timestamp}`;
  const body: EntraErrorBody = {
    error: override.error ?? spec.error,
    error_description: description,
    error_codes: [aadsts],
    timestamp,
    trace_id: ids.traceId,
    correlation_id: ids.correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${aadsts}`,
  };
  if (spec.suberror) body.suberror = spec.suberror;
  return { status: spec.status, body };
}
