// The retry schedule of forwarding: exponential, capped, jittered into the second half of each
// delay, ended by max_attempts, and never parked longer than an hour by a partner's Retry-After.
import { describe, expect, it } from 'vitest';
import { isRetryableStatus, nextDelayMs, parseRetryAfter } from '../src/forward/retry.js';
import { RetryPolicy } from '../src/model/destination.js';

const policy = RetryPolicy.parse({ first_delay_s: 60, factor: 3, cap_s: 3600, max_attempts: 5 });
const lowest = () => 0;
const highest = () => 1;

describe('nextDelayMs', () => {
  it('grows by the factor from the first delay, jittered between half and all of it', () => {
    expect([1, 2, 3].map((a) => nextDelayMs(a, policy, highest))).toEqual([60_000, 180_000, 540_000]);
    expect([1, 2, 3].map((a) => nextDelayMs(a, policy, lowest))).toEqual([30_000, 90_000, 270_000]);
    const mid = nextDelayMs(2, policy, () => 0.5)!;
    expect(mid).toBeGreaterThan(90_000);
    expect(mid).toBeLessThan(180_000);
  });

  it('caps the delay at cap_s, jitter included', () => {
    // 60 × 3⁴ = 4,860 s would exceed the cap of 3,600 s.
    const capped = RetryPolicy.parse({ ...policy, max_attempts: 30 });
    expect(nextDelayMs(5, capped, highest)).toBe(3_600_000);
    expect(nextDelayMs(20, capped, lowest)).toBe(1_800_000);
  });

  it('gives up once the attempts are used up', () => {
    expect(nextDelayMs(4, policy, highest)).toBeDefined();
    expect(nextDelayMs(5, policy, highest)).toBeUndefined();
    expect(nextDelayMs(6, policy, highest)).toBeUndefined();
  });

  it("waits at least a partner's Retry-After, but never more than an hour for it", () => {
    expect(nextDelayMs(1, policy, lowest, 600_000)).toBe(600_000);
    expect(nextDelayMs(1, policy, highest, 1_000)).toBe(60_000);
    expect(nextDelayMs(1, policy, lowest, 7 * 86_400_000)).toBe(3_600_000);
    expect(nextDelayMs(5, policy, lowest, 1_000)).toBeUndefined();
  });
});

describe('what is retried', () => {
  it.each([
    [408, true],
    [425, true],
    [429, true],
    [500, true],
    [503, true],
    [400, false],
    [401, false],
    [404, false],
    [301, false],
  ])('HTTP %i → retried: %s', (status, retried) => {
    expect(isRetryableStatus(status)).toBe(retried);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-11-29T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 12:05:00 GMT', now)).toBe(300_000);
    expect(parseRetryAfter('Sun, 29 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
