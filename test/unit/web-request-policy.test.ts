import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ROLES } from "../../src/core/account.ts";
import { crossSiteReason } from "../../src/core/request-origin.ts";
import { can, hasRole } from "../../src/core/role-permissions.ts";
import { safeReturnPath } from "../../src/core/safe-return-path.ts";
import { sessionVerdict, shouldTouch } from "../../src/core/session-policy.ts";

const HOST = "relay.example.com";

describe("cross-site requests", () => {
  const post = (headers: { origin?: string; secFetchSite?: string }) =>
    crossSiteReason({
      method: "POST",
      host: HOST,
      origin: headers.origin,
      secFetchSite: headers.secFetchSite,
    });

  it("lets same-origin posts and header-less clients through (the CSRF token decides)", () => {
    assert.equal(post({ origin: `https://${HOST}`, secFetchSite: "same-origin" }), undefined);
    assert.equal(post({}), undefined);
    assert.equal(post({ secFetchSite: "none" }), undefined);
  });

  it("refuses other origins, opaque origins and fetch metadata marking cross-site", () => {
    assert.match(post({ origin: "https://evil.example" }) ?? "", /another origin/);
    assert.match(post({ origin: `https://${HOST}.evil.example` }) ?? "", /another origin/);
    assert.match(post({ origin: "null" }) ?? "", /opaque/);
    assert.match(post({ secFetchSite: "cross-site" }) ?? "", /cross-site/);
    assert.match(post({ secFetchSite: "same-site", origin: `https://${HOST}` }) ?? "", /same-site/);
  });

  it("never refuses safe methods", () => {
    assert.equal(
      crossSiteReason({
        method: "GET",
        host: HOST,
        origin: "https://evil.example",
        secFetchSite: "cross-site",
      }),
      undefined,
    );
  });
});

describe("return paths after sign-in", () => {
  it("keeps local paths and refuses everything that could leave the site", () => {
    assert.equal(safeReturnPath("/orgs/org_1?x=1"), "/orgs/org_1?x=1");
    for (const bad of [
      "//evil.example",
      "/\\evil.example",
      "https://evil.example",
      "javascript:alert(1)",
      "/a\nb",
      "",
      5,
      "/login",
    ]) {
      assert.equal(safeReturnPath(bad, "/home"), "/home", String(bad));
    }
  });
});

describe("session policy", () => {
  const lifetime = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };
  const t0 = 1_000_000_000;
  it("expires idle and old sessions", () => {
    assert.equal(sessionVerdict({ createdAt: t0, lastSeenAt: t0 }, t0 + 29 * 60_000, lifetime), "valid");
    assert.equal(sessionVerdict({ createdAt: t0, lastSeenAt: t0 }, t0 + 30 * 60_000, lifetime), "idle");
    const active = { createdAt: t0, lastSeenAt: t0 + 12 * 3_600_000 - 1 };
    assert.equal(sessionVerdict(active, t0 + 12 * 3_600_000, lifetime), "expired");
  });
  it("touches at most once a minute", () => {
    assert.equal(shouldTouch({ createdAt: t0, lastSeenAt: t0 }, t0 + 59_000), false);
    assert.equal(shouldTouch({ createdAt: t0, lastSeenAt: t0 }, t0 + 60_000), true);
  });
});

describe("roles", () => {
  it("orders roles and gives each its permissions", () => {
    assert.deepEqual(
      ROLES.map((r) => hasRole(r, "responder")),
      [true, true, false],
    );
    assert.equal(can("viewer", "board.read"), true);
    assert.equal(can("viewer", "emergencies.acknowledge"), false);
    assert.equal(can("responder", "emergencies.acknowledge"), true);
    assert.equal(can("responder", "orgs.manage"), false);
    assert.equal(can("admin", "accounts.manage"), true);
    assert.equal(can("responder", "audit.read"), false);
  });
});
