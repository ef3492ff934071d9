// A labelled number input that keeps what is typed, reports an out-of-range value under the
// field, and hands on only valid numbers.
import { useEffect, useState } from "react";

interface Props {
  id: string;
  label: string;
  value: number;
  min: number;
  max?: number;
  /** Whole numbers only. */
  whole?: boolean;
  hint?: string;
  onChange: (n: number) => void;
}

export function NumberField({ id, label, value, min, max, whole, hint, onChange }: Props) {
  const [text, setText] = useState(String(value));
  useEffect(() => setText(String(value)), [value]);
  const valid = (t: string) => {
    const n = Number(t);
    return t.trim() !== "" && Number.isFinite(n) && n >= min && (max === undefined || n <= max) && (!whole || Number.isInteger(n));
  };
  const problem = valid(text) ? null : max !== undefined ? `From ${min} to ${max}.` : `A whole number, at least ${min}.`;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        inputMode={whole ? "numeric" : "decimal"}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          if (valid(e.target.value)) onChange(Number(e.target.value));
        }}
      />
      {problem ? <div className="problem">{problem}</div> : hint ? <div className="hint">{hint}</div> : null}
    </div>
  );
}
