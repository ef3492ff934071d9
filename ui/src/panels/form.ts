// Form model for a node's parameters, generated from its descriptor: which fields to show,
// with which values. The React form renders exactly this, so tests can check it without a DOM.
import type { ParamSpec } from "../gen/ParamSpec";

export interface Field {
  spec: ParamSpec;
  /** The stored value, or the descriptor's default. */
  value: unknown;
  /** Whether the parameter is set in the node (not just defaulted). */
  isSet: boolean;
  /** Whether the value holds an expression. */
  isExpression: boolean;
  /** A problem with the value as it stands (required but empty). */
  problem: string | null;
}

/** Mirrors `ParamSpec::is_shown` in Rust: every condition must hold. */
export function isShown(spec: ParamSpec, values: Record<string, unknown>, specs: ParamSpec[]): boolean {
  return (spec.showIf ?? []).every((cond) => {
    const value = cond.parameter in values ? values[cond.parameter] : specs.find((s) => s.name === cond.parameter)?.default;
    return cond.values.some((v) => JSON.stringify(v) === JSON.stringify(value));
  });
}

export function hasExpression(value: unknown): boolean {
  return typeof value === "string" && value.includes("{{");
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === "string" && value.trim() === "") || (Array.isArray(value) && value.length === 0);
}

/** The visible fields of a form, in descriptor order. */
export function formFields(specs: ParamSpec[], values: Record<string, unknown>): Field[] {
  return specs
    .filter((spec) => isShown(spec, values, specs))
    .map((spec) => {
      const isSet = spec.name in values && values[spec.name] !== undefined;
      const value = isSet ? values[spec.name] : spec.default;
      return {
        spec,
        value,
        isSet,
        isExpression: spec.expressions && hasExpression(value),
        problem: spec.required && isEmpty(value) ? `${spec.label} is required` : null,
      };
    });
}

/** A new entry for a list parameter, with each field's default. */
export function newListEntry(fields: ParamSpec[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f.name, f.default ?? null]));
}

/** Reads number input: a number when it parses, the text itself when it is an expression. */
export function parseNumberInput(text: string): number | string | undefined {
  if (text.trim() === "") return undefined;
  if (hasExpression(text)) return text;
  const n = Number(text);
  return Number.isFinite(n) ? n : text;
}
