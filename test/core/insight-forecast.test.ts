import { describe, expect, it } from "vitest";
import type { FundingSource } from "../../server/core/drain.js";
import { burnRatePerDay, expiringWithin, forecastBalance } from "../../server/core/forecast.js";
import { formatMicros, parseMicros } from "../../server/core/money.js";
import { DAY_MS, formatInstant } from "../../server/core/time.js";

const NOW = Date.UTC(2024, 5, 1);
const day = (n: number) => NOW + n * DAY_MS;
const t = (text: string) => parseMicros(text, "test");

function source(kind: FundingSource["kind"], id: number, size: string, expiresInDays: number, remaining = size): FundingSource {
  return {
    kind,
    id,
    sizeMicros: t(size),
    remainingMicros: t(remaining),
    purchasedAt: day(expiresInDays) - 365 * DAY_MS,
    expiresAt: day(expiresInDays),
  };
}
const pack = (id: number, size: string, expiresInDays: number, remaining?: string) => source("FLEX_PACK", id, size, expiresInDays, remaining);
const lot = (id: number, size: string, expiresInDays: number, remaining?: string) => source("CREDIT_LOT", id, size, expiresInDays, remaining);

describe("burn rate", () => {
  it.each([
    ["60", "2"],
    ["100", "3.333333"],
    ["0.000015", "0.000001"], // 0.5 micro rounds half-up
    ["0.000014", "0"],
    ["0", "0"],
  ])("charging %s tokens in 30 days burns %s tokens a day", (charged, rate) => {
    expect(formatMicros(burnRatePerDay(t(charged)))).toBe(rate);
  });
});

describe("balance forecast", () => {
  it.each([
    {
      name: "a 100-token pack expiring in 30 days at 2 tokens a day leaves 40 to expire, and runs out at its expiry",
      sources: [pack(1, "100", 30)],
      deficit: "0",
      charged: "60",
      depletesAt: day(30),
      unused: "40",
    },
    {
      name: "the same pack at 5 tokens a day is used up on day 20 and nothing expires",
      sources: [pack(1, "100", 30)],
      deficit: "0",
      charged: "150",
      depletesAt: day(20),
      unused: "0",
    },
    {
      name: "nothing burning means nothing runs out and everything held expires unused",
      sources: [pack(1, "100", 30), pack(2, "100", 200, "70")],
      deficit: "0",
      charged: "0",
      depletesAt: null,
      unused: "170",
    },
    {
      name: "credit-first drains a later-expiring lot while a sooner-expiring pack waits and expires whole",
      sources: [lot(1, "60", 60), pack(2, "100", 30)],
      deficit: "0",
      charged: "60",
      depletesAt: day(30),
      unused: "100",
    },
    {
      name: "the sooner-expiring pack drains first; what it cannot use expires, then the later pack runs out",
      sources: [pack(2, "100", 300), pack(1, "50", 10)],
      deficit: "0",
      charged: "120",
      // days 0–9 take 40 of pack 1 (10 expire), days 10–33 take 96 of pack 2, day 34 the last 4
      depletesAt: day(35),
      unused: "10",
    },
    {
      name: "a deficit is owed out of the available balance, so it runs out while the pack still holds it",
      sources: [pack(1, "100", 300)],
      deficit: "10",
      charged: "300",
      depletesAt: day(9),
      unused: "0",
    },
    {
      name: "running out inside a day is dated by linear interpolation",
      sources: [pack(1, "100", 300, "10")],
      deficit: "0",
      charged: "120",
      depletesAt: day(2.5),
      unused: "0",
    },
    {
      name: "an account already owing more than it holds has run out now",
      sources: [pack(1, "100", 300, "3")],
      deficit: "5",
      charged: "30",
      depletesAt: NOW,
      unused: "0",
    },
    {
      name: "an account that owes and burns nothing has run out now",
      sources: [],
      deficit: "10",
      charged: "0",
      depletesAt: NOW,
      unused: "0",
    },
    {
      name: "an account with nothing left has run out now",
      sources: [pack(1, "100", 300, "0"), pack(2, "100", -1, "50")],
      deficit: "0",
      charged: "30",
      depletesAt: NOW,
      unused: "0",
    },
  ])("$name", ({ sources, deficit, charged, depletesAt, unused }) => {
    const forecast = forecastBalance({ sources, deficitMicros: t(deficit), chargedInWindowMicros: t(charged), now: NOW });
    expect(forecast.depletesAt === null ? null : formatInstant(forecast.depletesAt)).toBe(depletesAt === null ? null : formatInstant(depletesAt));
    expect(formatMicros(forecast.expiringUnusedMicros)).toBe(unused);
    expect(forecast.burnRatePerDayMicros).toBe(burnRatePerDay(t(charged)));
  });

  it("drains no lot from the credit acceptance end on: the pack pays from then and what the lot holds expires unused", () => {
    const sources = [lot(1, "100", 200), pack(2, "100", 300)];
    // Days 0–9 take 20 of the lot at 2 a day; from day 10 the pack's 100 last 50 days.
    const forecast = forecastBalance({ sources, deficitMicros: 0n, chargedInWindowMicros: t("60"), now: NOW, creditAcceptanceEndAt: day(10) });
    expect([forecast.depletesAt, formatMicros(forecast.expiringUnusedMicros)]).toEqual([day(60), "80"]);
  });

  it("runs out at the credit acceptance end, not a day later, when a lot left then was all the balance", () => {
    // 70 left at 1 a day from noon: 12 days take 12 of it, and the rest stops paying at the end.
    const noon = NOW + DAY_MS / 2;
    const forecast = forecastBalance({ sources: [lot(1, "100", 200, "70")], deficitMicros: 0n, chargedInWindowMicros: t("30"), now: noon, creditAcceptanceEndAt: day(12) });
    expect([formatInstant(forecast.depletesAt!), formatMicros(forecast.expiringUnusedMicros)]).toEqual([formatInstant(day(12)), "58"]);
  });

  it("reports the tokens expiring within 90 days whatever the burn rate", () => {
    const sources = [pack(1, "100", 30, "70"), pack(2, "100", 91), lot(3, "20", 90, "5")];
    for (const charged of ["0", "30", "3000"]) {
      const forecast = forecastBalance({ sources, deficitMicros: 0n, chargedInWindowMicros: t(charged), now: NOW });
      expect(formatMicros(forecast.expiringWithin90DaysMicros)).toBe("75");
    }
  });
});

describe("tokens expiring within 90 days", () => {
  it("counts what is left of lots and packs valid now that expire by now + 90 days, and dates the soonest", () => {
    const notYetBought: FundingSource = { ...pack(9, "100", 40), purchasedAt: day(1) };
    const expiring = expiringWithin(
      [pack(1, "100", 30, "70"), lot(2, "20", 90, "5"), pack(3, "100", 91), pack(4, "100", 0), pack(5, "100", 10, "0"), notYetBought],
      NOW,
    );
    expect(formatMicros(expiring.tokensMicros)).toBe("75");
    expect(expiring.soonest).toBe(day(30));
  });

  it("has no soonest expiry when nothing expires soon", () => {
    expect(expiringWithin([pack(1, "100", 200)], NOW)).toEqual({ tokensMicros: 0n, soonest: null });
  });
});
