// The node palette: every node type from the descriptors, grouped and searchable. Drag an
// entry onto the canvas (pointer events, so it works with mouse, pen and touch), or click it
// to add the node in the middle of the view.
import { forwardRef, useCallback, useEffect, useMemo, useState } from "react";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { NodeGroup } from "../gen/NodeGroup";
import { NodeIcon } from "./icons";

const GROUPS: [NodeGroup, string][] = [
  ["trigger", "Triggers"],
  ["flow", "Flow"],
  ["data", "Data"],
  ["action", "Actions"],
];

const RECENT_KEY = "switchyard.recentNodes";
/** How many recently used node types the palette shows first. */
export const RECENT_MAX = 5;

/** `type` moved to the front of the recently used list (once, at most RECENT_MAX). */
export function remember(recent: string[], type: string): string[] {
  return [type, ...recent.filter((t) => t !== type)].slice(0, RECENT_MAX);
}

function loadRecent(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(RECENT_KEY) ?? "[]");
    return Array.isArray(value) ? value.filter((t): t is string => typeof t === "string").slice(0, RECENT_MAX) : [];
  } catch {
    return [];
  }
}

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
  const [recent, setRecent] = useState<string[]>(loadRecent);
  const visible = useMemo(() => descriptors.filter((d) => matches(d, query)), [descriptors, query]);
  const used = useCallback((d: NodeDescriptor) => {
    setRecent((list) => {
      const next = remember(list, d.type);
      try {
        localStorage.setItem(RECENT_KEY, JSON.stringify(next));
      } catch {
        // Not kept (storage full or off): the list still works for this session.
      }
      return next;
    });
  }, []);
  const add = useCallback(
    (d: NodeDescriptor) => {
      used(d);
      onAdd(d);
    },
    [onAdd, used],
  );
  const drop = useCallback(
    (d: NodeDescriptor, x: number, y: number) => {
      used(d);
      onDrop(d, x, y);
    },
    [onDrop, used],
  );
  // The newest version of each recently used type, while nothing is searched.
  const recentItems = query.trim()
    ? []
    : recent.flatMap((type) => {
        const versions = descriptors.filter((d) => d.type === type);
        return versions.length ? [versions.reduce((a, b) => (b.version > a.version ? b : a))] : [];
      });

  useEffect(() => {
    if (!drag) return;
    const move = (e: PointerEvent) => setDrag((d) => (d ? { ...d, x: e.clientX, y: e.clientY } : d));
    const up = (e: PointerEvent) => {
      const moved = Math.hypot(e.clientX - drag.startX, e.clientY - drag.startY) > 5;
      setDrag(null);
      if (moved) drop(drag.descriptor, e.clientX, e.clientY);
      else add(drag.descriptor);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up, { once: true });
    return () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
  }, [drag, drop, add]);

  const item = (d: NodeDescriptor, prefix: string) => (
    <div
      key={`${prefix}${d.type}@${d.version}`}
      className="palette-item"
      data-testid={`palette-${prefix}${d.type}`}
      title={`${d.description}\n(${d.type})`}
      role="button"
      tabIndex={0}
      onKeyDown={(e) => e.key === "Enter" && !disabled && add(d)}
      onPointerDown={(e) => {
        if (disabled || e.button !== 0) return;
        e.preventDefault();
        setDrag({ descriptor: d, x: e.clientX, y: e.clientY, startX: e.clientX, startY: e.clientY });
      }}
    >
      <NodeIcon name={d.icon} group={d.group} />
      <div className="palette-text">
        <div>{d.displayName}</div>
        <div className="desc">{d.description}</div>
      </div>
    </div>
  );

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
          if (e.key === "Enter" && visible[0] && !disabled) add(visible[0]);
          if (e.key === "Escape") setQuery("");
        }}
      />
      <div className="groups">
        {recentItems.length > 0 && (
          <section data-testid="palette-recent">
            <h2>Recently used</h2>
            {recentItems.map((d) => item(d, "recent-"))}
          </section>
        )}
        {GROUPS.map(([group, title]) => {
          const items = visible.filter((d) => d.group === group);
          if (items.length === 0) return null;
          return (
            <section key={group}>
              <h2>{title}</h2>
              {items.map((d) => item(d, ""))}
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
