import { describe, expect, it } from "vitest";
import { inferSchema } from "./schema";

describe("schemas from an example", () => {
  it("requires every field with the type it has, and closes every object", () => {
    expect(inferSchema({ category: "billing", urgency: 3, score: 0.5, tags: ["a"], done: false, meta: { at: null } })).toEqual({
      type: "object",
      properties: {
        category: { type: "string" },
        urgency: { type: "integer" },
        score: { type: "number" },
        tags: { type: "array", items: { type: "string" } },
        done: { type: "boolean" },
        meta: { type: "object", properties: { at: { type: "null" } }, required: ["at"], additionalProperties: false },
      },
      required: ["category", "urgency", "score", "tags", "done", "meta"],
      additionalProperties: false,
    });
    expect(inferSchema([])).toEqual({ type: "array" });
  });
});
