import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fingerprint } from "../../server/services/context.js";
import { usageFingerprint, type UsageEvent } from "../../server/services/rating.service.js";

const validatedEvent: fc.Arbitrary<UsageEvent> = fc.record({
  eventId: fc.string({ minLength: 1 }),
  accountId: fc.nat(),
  apiCode: fc.string(),
  quantityMicros: fc.bigInt({ min: 0n, max: 10n ** 18n }),
  outcome: fc.constantFrom("SUCCEEDED", "FAILED", "CANCELLED"),
  occurredAt: fc.nat(),
  clientId: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined)),
  // Integer-like keys ("10", "9") are ordered by JavaScript itself: both forms must agree anyway.
  labels: fc.option(fc.dictionary(fc.oneof(fc.string(), fc.nat().map(String), fc.constantFrom("__proto__", "constructor")), fc.string(), { maxKeys: 5 }), { nil: undefined }),
});

describe("the usage fingerprint", () => {
  it("is byte for byte the generic fingerprint of the event without its id", () => {
    fc.assert(
      fc.property(validatedEvent, (event) => {
        expect(usageFingerprint(event)).toBe(fingerprint({ ...event, eventId: undefined }));
      }),
      { numRuns: 2000 },
    );
  });

  it("ignores the event id and tells payloads apart", () => {
    const event: UsageEvent = { eventId: "a", accountId: 1, apiCode: "x/y", quantityMicros: 1n, outcome: "SUCCEEDED", occurredAt: 5, clientId: null, labels: { b: "1", a: "2" } };
    expect(usageFingerprint({ ...event, eventId: "b" })).toBe(usageFingerprint(event));
    expect(usageFingerprint({ ...event, labels: { a: "2", b: "1" } })).toBe(usageFingerprint(event));
    expect(usageFingerprint({ ...event, quantityMicros: 2n })).not.toBe(usageFingerprint(event));
    expect(usageFingerprint({ ...event, clientId: "app" })).not.toBe(usageFingerprint(event));
  });
});
