// A sticky note on the canvas: markdown shown safely (lib/markdown), edited in place with a
// double-click, resized from its edges and corners, coloured from swatches when selected.
import { type Node as FlowNode, NodeResizer, type NodeProps } from "@xyflow/react";
import { memo, useEffect, useState } from "react";
import type { NoteColor } from "../gen/NoteColor";
import type { StickyNote } from "../gen/StickyNote";
import { NOTE_MAX_SIDE, NOTE_MIN_SIDE } from "../editor/model";
import { Markdown } from "../lib/markdown";

export type NoteChange = Partial<Omit<StickyNote, "id">>;

export interface StickyData extends Record<string, unknown> {
  note: StickyNote;
  readOnly: boolean;
  onChange: (id: string, change: NoteChange) => void;
  /** A link in the note was clicked (the editor asks before opening the browser). */
  onOpenLink: (url: string) => void;
}

export type StickyNode = FlowNode<StickyData, "sticky">;

export const NOTE_COLORS: NoteColor[] = ["yellow", "blue", "green", "pink", "purple", "gray"];

/** The minimap's colour of each note colour. */
export const NOTE_SWATCH: Record<NoteColor, string> = {
  yellow: "#f4d35e",
  blue: "#7fb3f5",
  green: "#8fd694",
  pink: "#f5a3c7",
  purple: "#c3a6f2",
  gray: "#b8bcc4",
};

export const StickyNoteCard = memo(function StickyNoteCard({ data, selected }: NodeProps<StickyNode>) {
  const { note, readOnly, onChange } = data;
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(note.content);
  useEffect(() => {
    if (!editing) setDraft(note.content);
  }, [note.content, editing]);
  const commit = () => {
    setEditing(false);
    if (draft !== note.content) onChange(note.id, { content: draft });
  };
  return (
    <div
      className={`sticky-note color-${note.color}${selected ? " selected" : ""}`}
      data-testid="sticky-note"
      data-color={note.color}
      onDoubleClick={(e) => {
        if (readOnly) return;
        e.stopPropagation();
        setEditing(true);
      }}
    >
      {!readOnly && (
        <NodeResizer
          isVisible={selected && !editing}
          minWidth={NOTE_MIN_SIDE}
          minHeight={NOTE_MIN_SIDE}
          maxWidth={NOTE_MAX_SIDE}
          maxHeight={NOTE_MAX_SIDE}
          onResizeEnd={(_, p) => onChange(note.id, { size: [p.width, p.height], position: [p.x, p.y] })}
        />
      )}
      {selected && !readOnly && !editing && (
        <div className="note-colors nodrag" role="group" aria-label="Note colour">
          {NOTE_COLORS.map((c) => (
            <button
              key={c}
              className={`swatch color-${c}`}
              aria-label={`Colour ${c}`}
              aria-pressed={c === note.color}
              title={c}
              data-testid={`note-color-${c}`}
              onClick={(e) => {
                e.stopPropagation();
                onChange(note.id, { color: c });
              }}
            />
          ))}
        </div>
      )}
      {editing ? (
        <textarea
          className="nodrag nowheel"
          autoFocus
          aria-label="Note text (markdown)"
          value={draft}
          maxLength={20000}
          spellCheck
          onChange={(e) => setDraft(e.target.value)}
          onBlur={commit}
          onKeyDown={(e) => {
            if (e.key === "Escape" || (e.key === "Enter" && (e.ctrlKey || e.metaKey))) {
              e.preventDefault();
              commit();
            }
            e.stopPropagation();
          }}
        />
      ) : (
        <div className="note-body nowheel" data-testid="note-body">
          {note.content.trim() ? <Markdown text={note.content} open={data.onOpenLink} /> : !readOnly && <span className="muted">Double-click to write (markdown)</span>}
        </div>
      )}
    </div>
  );
});
