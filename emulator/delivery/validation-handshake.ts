import { newGuid } from "../ids.ts";
import { postWebhook } from "./post-webhook.ts";

/**
 * Graph validates `notificationUrl` and `lifecycleNotificationUrl` before creating a subscription: POST with
 * `?validationToken=`, expecting 200, text/plain and exactly the decoded token within 10 s
 * (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks#notificationurl-validation).
 * Returns the failure message Graph would put in its 400, or null.
 */
export async function runValidationHandshake(
  url: string,
  options: { timeoutMs: number; trustedCaPems: string[] },
): Promise<string | null> {
  const token = `Validation: Testing client application reachability for subscription Request-Id: ${newGuid()}`;
  const target = new URL(url);
  // URLSearchParams encodes spaces as '+', so receivers must decode the way URLSearchParams does.
  target.searchParams.append("validationToken", token);
  const response = await postWebhook(target.toString(), {
    body: "",
    contentType: "text/plain; charset=utf-8",
    timeoutMs: options.timeoutMs,
    trustedCaPems: options.trustedCaPems,
  });
  if (response.timedOut) return "Subscription validation request timed out.";
  if (response.status === null)
    return `Subscription validation request failed. Notification endpoint could not be reached: ${response.error}.`;
  if (response.status !== 200) {
    return `Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request. It responded ${response.status}.`;
  }
  if (!(response.contentType ?? "").toLowerCase().startsWith("text/plain")) {
    return "Subscription validation request failed. Notification endpoint must respond with text/plain content type.";
  }
  if (response.body !== token)
    return "Subscription validation request failed. Response must exactly match validationToken query parameter.";
  return null;
}
