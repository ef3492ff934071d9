// JSON schemas for structured output, made from an example answer (the same rules as the
// engine's `llm::schema::infer`): every field required, types as seen, lists typed by their
// first entry, no other fields allowed.

export type JsonSchema = Record<string, unknown>;

export function inferSchema(example: unknown): JsonSchema {
  if (Array.isArray(example)) return example.length > 0 ? { type: "array", items: inferSchema(example[0]) } : { type: "array" };
  if (example === null) return { type: "null" };
  switch (typeof example) {
    case "string":
      return { type: "string" };
    case "number":
      return { type: Number.isInteger(example) ? "integer" : "number" };
    case "boolean":
      return { type: "boolean" };
    case "object": {
      const fields = example as Record<string, unknown>;
      const properties = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, inferSchema(v)]));
      return { type: "object", properties, required: Object.keys(fields), additionalProperties: false };
    }
    default:
      return {};
  }
}
