import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  chatListKeys,
  chatMessageKeys,
  createRateLimiter,
  createTeamsRateLimiter,
} from "../../src/core/rate-limiter.ts";

const T0 = Date.parse("2026-11-27T09:00:00.000Z");

describe("rate limiter", () => {
  it("spaces requests on one chat one second apart", () => {
    const limiter = createTeamsRateLimiter();
    const keys = chatMessageKeys("org-1", "19:a@thread.v2");
    assert.equal(limiter.reserve(keys, T0), 0);
    assert.equal(limiter.reserve(keys, T0), 1000);
    assert.equal(limiter.reserve(keys, T0 + 100), 1900);
    // After the reserved slots have passed, a request goes at once.
    assert.equal(limiter.reserve(keys, T0 + 5000), 0);
  });

  it("lets different chats go together but holds the org's app to 20 per second", () => {
    const limiter = createTeamsRateLimiter();
    const waits = Array.from({ length: 40 }, (_, i) =>
      limiter.reserve(chatMessageKeys("org-1", `chat-${i}`), T0),
    );
    // Each chat is fresh, so only the app key (50 ms) spaces them: 40 requests take 2 s.
    assert.deepEqual(
      waits,
      Array.from({ length: 40 }, (_, i) => i * 50),
    );
    const inFirstSecond = waits.filter((w) => w < 1000).length;
    assert.equal(inFirstSecond, 20);
    // Another org (another app registration) is not held back by this one.
    assert.equal(limiter.reserve(chatMessageKeys("org-2", "chat-0"), T0), 0);
  });

  it("waits for the slowest key of a request", () => {
    const limiter = createTeamsRateLimiter();
    limiter.reserve(chatMessageKeys("org-1", "chat-a"), T0);
    // chat-a is busy for 1 s; chat-b alone would go after 50 ms.
    assert.equal(limiter.wouldWait(chatMessageKeys("org-1", "chat-b"), T0), 50);
    assert.equal(limiter.wouldWait(chatMessageKeys("org-1", "chat-a"), T0), 1000);
    assert.equal(limiter.reserve(chatMessageKeys("org-1", "chat-a"), T0), 1000);
  });

  it("wouldWait reserves nothing", () => {
    const limiter = createTeamsRateLimiter();
    const keys = chatMessageKeys("org-1", "chat-a");
    for (let i = 0; i < 5; i++) assert.equal(limiter.wouldWait(keys, T0), 0);
    assert.equal(limiter.reserve(keys, T0), 0);
  });

  it("honours Retry-After: nothing on a blocked key before the block ends, and blocks never shrink", () => {
    const limiter = createTeamsRateLimiter();
    limiter.blockUntil("app:org-1", T0 + 7000);
    assert.equal(limiter.wouldWait(chatMessageKeys("org-1", "chat-a"), T0), 7000);
    assert.equal(limiter.reserve(chatMessageKeys("org-1", "chat-b"), T0 + 2000), 5000);
    limiter.blockUntil("app:org-1", T0 + 3000);
    assert.equal(limiter.wouldWait(chatMessageKeys("org-1", "chat-c"), T0 + 2000), 5050);
    // Other orgs are untouched.
    assert.equal(limiter.wouldWait(chatMessageKeys("org-2", "chat-a"), T0), 0);
    assert.equal(limiter.wouldWait(chatMessageKeys("org-1", "chat-a"), T0 + 8000), 0);
  });

  it("limits listing chats to 5 per second per service user", () => {
    const limiter = createTeamsRateLimiter();
    const waits = Array.from({ length: 6 }, () => limiter.reserve(chatListKeys("org-1"), T0));
    assert.deepEqual(waits, [0, 200, 400, 600, 800, 1000]);
  });

  it("takes any interval per key and stays bounded in memory", () => {
    const limiter = createRateLimiter((key) => (key === "slow" ? 10_000 : 1));
    assert.equal(limiter.reserve(["slow", "fast"], T0), 0);
    assert.equal(limiter.reserve(["fast"], T0), 1);
    assert.equal(limiter.reserve(["slow"], T0), 10_000);
    for (let i = 0; i < 20_000; i++) limiter.reserve([`k${i}`], T0 + i);
    // Old entries were pruned along the way, yet live ones still count.
    assert.equal(limiter.wouldWait(["slow"], T0 + 10_000), 10_000);
  });
});
