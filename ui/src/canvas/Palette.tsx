// The node palette: every node type from the descriptors, grouped and searchable. Drag an
// entry onto the canvas (pointer events, so it works with mouse, pen and touch), or click it
// to add the node in the middle of the view.
import { forwardRef, useEffect, useMemo, useState } from "react";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { NodeGroup } from "../gen/NodeGroup";
import { NodeIcon } from "./icons";

const GROUPS: [NodeGroup, string][] = [
  ["trigger", "Triggers"],
  ["flow", "Flow"],
  ["data", "Data"],
  ["action", "Actions"],
];

export function matches(d: NodeDescriptor, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [d.displayName, d.type, d.description].some((text) => text.toLowerCase().includes(q));
}

interface DragState {
  descriptor: NodeDescriptor;
  x: number;
  y: number;
  startX: number;
  startY: number;
}

interface Props {
  descriptors: NodeDescriptor[];
  /** A palette entry was dropped at a screen point. */
  onDrop: (descriptor: NodeDescriptor, x: number, y: number) => void;
  /** A palette entry was clicked (or chosen with Enter). */
  onAdd: (descriptor: NodeDescriptor) => void;
  disabled?: boolean;
}

export const Palette = forwardRef<HTMLInputElement, Props>(function Palette({ descriptors, onDrop, onAdd, disabled }, searchRef) {
  const [query, setQuery] = useState("");
  const [drag, setDrag] = useState<DragState | null>(null);
  const visible = useMemo(() => descriptors.filter((d) => matches(d, query)), [descriptors, query]);

  useEffect(() => {
    if (!drag) return;
    const move = (e: PointerEvent) => setDrag((d) => (d ? { ...d, x: e.clientX, y: e.clientY } : d));
    const up = (e: PointerEvent) => {
      const moved = Math.hypot(e.clientX - drag.startX, e.clientY - drag.startY) > 5;
      setDrag(null);
      if (moved) onDrop(drag.descriptor, e.clientX, e.clientY);
      else onAdd(drag.descriptor);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up, { once: true });
    return () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
  }, [drag, onDrop, onAdd]);

  return (
    <aside className="palette" aria-label="Node palette">
      <input
        ref={searchRef}
        type="search"
        placeholder="Search nodes  ( / )"
        aria-label="Search nodes"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && visible[0] && !disabled) onAdd(visible[0]);
          if (e.key === "Escape") setQuery("");
        }}
      />
      <div className="groups">
        {GROUPS.map(([group, title]) => {
          const items = visible.filter((d) => d.group === group);
          if (items.length === 0) return null;
          return (
            <section key={group}>
              <h3>{title}</h3>
              {items.map((d) => (
                <div
                  key={`${d.type}@${d.version}`}
                  className="palette-item"
                  data-testid={`palette-${d.type}`}
                  title={d.description}
                  role="button"
                  tabIndex={0}
                  onKeyDown={(e) => e.key === "Enter" && !disabled && onAdd(d)}
                  onPointerDown={(e) => {
                    if (disabled || e.button !== 0) return;
                    e.preventDefault();
                    setDrag({ descriptor: d, x: e.clientX, y: e.clientY, startX: e.clientX, startY: e.clientY });
                  }}
                >
                  <NodeIcon name={d.icon} group={d.group} />
                  <div>
                    <div>{d.displayName}</div>
                    <div className="desc">{d.type}</div>
                  </div>
                </div>
              ))}
            </section>
          );
        })}
        {visible.length === 0 && <div className="muted">No node matches “{query}”.</div>}
      </div>
      {drag && Math.hypot(drag.x - drag.startX, drag.y - drag.startY) > 5 && (
        <div className="drag-ghost" style={{ left: drag.x, top: drag.y }}>
          {drag.descriptor.displayName}
        </div>
      )}
    </aside>
  );
});
