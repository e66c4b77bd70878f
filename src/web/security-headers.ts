/**
 * Headers of every web-app response. No inline script or style anywhere (CSP without 'unsafe-inline'): pages
 * load /assets/app.css and /assets/app.js. `form-action` also allows Microsoft's sign-in origin, because
 * the Connect form is answered with a redirect there and browsers check form redirects against it.
 */
export function securityHeaders(loginBaseUrl: string): Record<string, string> {
  const loginOrigin = new URL(loginBaseUrl).origin;
  return {
    "content-security-policy": [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "media-src 'self'",
      "connect-src 'self'",
      "manifest-src 'self'",
      `form-action 'self' ${loginOrigin}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join("; "),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
  };
}
