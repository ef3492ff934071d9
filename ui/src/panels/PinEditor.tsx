// Editing a node's pinned items: as JSON (paste sample data) or as a table (a row per item, a
// column per field). Both views edit the same items; switching checks the JSON first.
import { useMemo, useState } from "react";
import type { Item } from "../gen/Item";

type Json = Record<string, unknown>;

/** Parses what the user wrote as pinned items: a JSON list of objects (or one object). */
export function parsePinned(text: string): Item[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(value) ? value : [value];
  return list.map((v, i) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`item ${i} is not an object: each item is {"field": value, …}`);
    return { json: v as Item["json"] };
  });
}

/** A cell's text: strings as they are, anything else as JSON; an absent field is empty. */
export function cellText(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** What a cell's text means: JSON when it reads as JSON (42, true, null, "42", [1], {"a": 1}),
 * otherwise the text itself; an empty cell removes the field. */
export function cellValue(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The columns of a list of items: every top-level field, in order of first appearance. */
export function columnsOf(rows: Json[]): string[] {
  const keys: string[] = [];
  for (const row of rows) for (const k of Object.keys(row)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

function PinTable({ rows, columns, onRows, onColumns }: { rows: Json[]; columns: string[]; onRows: (rows: Json[]) => void; onColumns: (columns: string[]) => void }) {
  const [newColumn, setNewColumn] = useState("");
  const setCell = (r: number, column: string, text: string) => {
    const value = cellValue(text);
    onRows(
      rows.map((row, i) => {
        if (i !== r) return row;
        const next = { ...row };
        if (value === undefined) delete next[column];
        else next[column] = value;
        return next;
      }),
    );
  };
  const addColumn = () => {
    const name = newColumn.trim();
    if (!name || columns.includes(name)) return;
    onColumns([...columns, name]);
    setNewColumn("");
  };
  return (
    <div className="pin-table">
      <table className="items-table" data-testid="pin-table">
        <thead>
          <tr>
            <th>#</th>
            {columns.map((c) => (
              <th key={c}>
                {c}{" "}
                <button
                  className="icon"
                  aria-label={`Remove column ${c}`}
                  title={`Remove the field “${c}” from every item`}
                  onClick={() => {
                    onColumns(columns.filter((x) => x !== c));
                    onRows(rows.map(({ [c]: _, ...rest }) => rest));
                  }}
                >
                  ×
                </button>
              </th>
            ))}
            <th>
              <input
                aria-label="New column"
                placeholder="new field"
                value={newColumn}
                size={10}
                onChange={(e) => setNewColumn(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === "Enter") addColumn();
                }}
              />
              <button onClick={addColumn} disabled={!newColumn.trim() || columns.includes(newColumn.trim())}>
                Add column
              </button>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, r) => (
            <tr key={r}>
              <td className="muted">{r}</td>
              {columns.map((c) => (
                <td key={c}>
                  <input aria-label={`Item ${r} ${c}`} value={cellText(row[c])} onChange={(e) => setCell(r, c, e.target.value)} />
                </td>
              ))}
              <td>
                <button className="icon" aria-label={`Remove item ${r}`} onClick={() => onRows(rows.filter((_, i) => i !== r))}>
                  ×
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button onClick={() => onRows([...rows, {}])} data-testid="pin-add-row">
        Add item
      </button>
      <span className="muted"> A cell is read as JSON where it can be (42, true, null, "42", [1, 2]), else as text; an empty cell leaves the field out.</span>
    </div>
  );
}

/** Edits a node's pinned items as JSON (pasted sample data included) or as a table. */
export function PinEditor({ nodeName, items, onSave, onClose }: { nodeName: string; items: Item[]; onSave: (items: Item[]) => void; onClose: () => void }) {
  const [mode, setMode] = useState<"json" | "table">("json");
  const [text, setText] = useState(() => JSON.stringify(items.map((i) => i.json), null, 2));
  const [rows, setRows] = useState<Json[]>(() => items.map((i) => (i.json ?? {}) as Json));
  const [extraColumns, setExtraColumns] = useState<string[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const columns = useMemo(() => {
    const found = columnsOf(rows);
    return [...found, ...extraColumns.filter((c) => !found.includes(c))];
  }, [rows, extraColumns]);
  const current = (): Item[] => (mode === "json" ? parsePinned(text) : rows.map((json) => ({ json: json as Item["json"] })));
  const switchTo = (next: "json" | "table") => {
    if (next === mode) return;
    try {
      const now = current();
      setProblem(null);
      if (next === "table") {
        setRows(now.map((i) => i.json as Json));
        setExtraColumns([]);
      } else setText(JSON.stringify(now.map((i) => i.json), null, 2));
      setMode(next);
    } catch (e) {
      setProblem(`${(e as Error).message}; fix the JSON to see it as a table`);
    }
  };
  const save = () => {
    try {
      onSave(current());
    } catch (e) {
      setProblem((e as Error).message);
    }
  };
  return (
    <div className="overlay" data-testid="pin-editor">
      <div
        className="dialog"
        role="dialog"
        aria-label={`Pinned data of ${nodeName}`}
        style={{ width: mode === "table" ? 860 : 620, maxWidth: "95vw" }}
        onKeyDown={(e) => {
          if (e.key === "Escape") onClose();
          e.stopPropagation();
        }}
      >
        <h2>Pinned data of “{nodeName}”</h2>
        <p className="muted">The items this node emits instead of running, in runs you start. Paste sample data as JSON, or edit it as a table.</p>
        <div className="tabs" role="tablist">
          <button role="tab" aria-selected={mode === "json"} className={mode === "json" ? "active" : ""} onClick={() => switchTo("json")}>
            JSON
          </button>
          <button role="tab" aria-selected={mode === "table"} className={mode === "table" ? "active" : ""} onClick={() => switchTo("table")} data-testid="pin-table-view">
            Table
          </button>
        </div>
        {mode === "json" ? (
          <textarea aria-label="Pinned items (JSON)" rows={14} spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} style={{ width: "100%", fontFamily: "monospace" }} />
        ) : (
          <PinTable rows={rows} columns={columns} onRows={setRows} onColumns={(c) => setExtraColumns(c.filter((x) => !columnsOf(rows).includes(x)))} />
        )}
        {problem && <div className="problem">{problem}</div>}
        <div className="buttons">
          <button onClick={onClose}>Cancel</button>
          <button className="primary" onClick={save}>
            Pin
          </button>
        </div>
      </div>
    </div>
  );
}
