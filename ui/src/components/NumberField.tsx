// A labelled number input that keeps what is typed, reports an out-of-range value under the
// field, and hands on only valid numbers.
import { useState } from "react";

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
  // A new value from outside (undo, a reload) replaces the text. Done while rendering, not in
  // an effect, so a late effect can never overwrite what was just typed.
  const [shown, setShown] = useState(value);
  if (shown !== value) {
    setShown(value);
    setText(String(value));
  }
  const valid = (t: string) => {
    const n = Number(t);
    return t.trim() !== "" && Number.isFinite(n) && n >= min && (max === undefined || n <= max) && (!whole || Number.isInteger(n));
  };
  const problem = valid(text) ? null : max !== undefined ? `From ${min} to ${max}.` : `${whole ? "A whole number" : "A number"}, at least ${min}.`;
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
