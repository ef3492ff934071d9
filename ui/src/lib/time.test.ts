import { describe, expect, it } from "vitest";
import { relativeTime } from "./time";

describe("relativeTime", () => {
  const now = Date.parse("2026-12-02T12:00:00Z");
  it("reads like speech up to a week, then gives the date", () => {
    expect(relativeTime("2026-12-02T11:59:30Z", now)).toBe("just now");
    expect(relativeTime("2026-12-02T11:59:00Z", now)).toBe("1 minute ago");
    expect(relativeTime("2026-12-02T09:00:00Z", now)).toBe("3 hours ago");
    expect(relativeTime("2026-11-30T12:00:00Z", now)).toBe("2 days ago");
    expect(relativeTime("2026-10-01T12:00:00Z", now)).toBe(new Date("2026-10-01T12:00:00Z").toLocaleDateString());
    expect(relativeTime("not a time", now)).toBe("not a time");
  });
});
