// Short messages in the corner: errors, and what an action did. At most three show, newest
// on top; the same message again counts up instead of stacking; messages go after a few
// seconds, errors stay until closed. While a side panel is open, they move beside it so they
// never cover its fields.
import { useEffect, useSyncExternalStore } from "react";
import { Store } from "../lib/store";

export interface Toast {
  id: number;
  kind: "info" | "success" | "error";
  text: string;
  /** How many times it was said. */
  count: number;
}

/** How many toasts show at once. */
export const VISIBLE = 3;
/** How long an info or success toast stays (ms). */
export const LINGER_MS = 4000;

interface State {
  /** Newest first. */
  list: Toast[];
  /** Open side panels (the editor's): toasts keep left of them. */
  panels: number;
}

const store = new Store<State>({ list: [], panels: 0 });
const timers = new Map<number, ReturnType<typeof setTimeout>>();
let nextId = 1;

export function dismiss(id: number): void {
  clearTimeout(timers.get(id));
  timers.delete(id);
  store.set((s) => ({ ...s, list: s.list.filter((t) => t.id !== id) }));
}

function expireLater(t: Toast, ms: number | undefined) {
  clearTimeout(timers.get(t.id));
  const wait = ms ?? (t.kind === "error" ? undefined : LINGER_MS);
  if (wait === undefined) return;
  timers.set(
    t.id,
    setTimeout(() => dismiss(t.id), wait),
  );
}

/** Shows `text`. Errors stay until closed unless `ms` is given. */
export function toast(text: string, kind: Toast["kind"] = "info", ms?: number): void {
  const same = store.get().list.find((t) => t.text === text && t.kind === kind);
  if (same) {
    const counted = { ...same, count: same.count + 1 };
    store.set((s) => ({ ...s, list: [counted, ...s.list.filter((t) => t.id !== same.id)] }));
    expireLater(counted, ms);
    return;
  }
  const added: Toast = { id: nextId++, kind, text, count: 1 };
  let list = [added, ...store.get().list];
  // Over the limit, the oldest message goes first, then the oldest error.
  while (list.length > VISIBLE) {
    const reversed = [...list].reverse();
    const drop = reversed.find((t) => t.kind !== "error") ?? reversed[0];
    clearTimeout(timers.get(drop.id));
    timers.delete(drop.id);
    list = list.filter((t) => t.id !== drop.id);
  }
  store.set((s) => ({ ...s, list }));
  expireLater(added, ms);
}

/** Keeps the toasts beside the side panel while `open`. */
export function useToastsBesidePanel(open: boolean): void {
  useEffect(() => {
    if (!open) return;
    store.set((s) => ({ ...s, panels: s.panels + 1 }));
    return () => store.set((s) => ({ ...s, panels: s.panels - 1 }));
  }, [open]);
}

/** For tests: no toasts, no timers. */
export function clearToasts(): void {
  for (const timer of timers.values()) clearTimeout(timer);
  timers.clear();
  store.set((s) => ({ ...s, list: [] }));
}

export function Toasts() {
  const { list, panels } = useSyncExternalStore(store.subscribe, store.get);
  return (
    <div className={`toasts${panels > 0 ? " beside-panel" : ""}`} role="status" data-testid="toasts">
      {list.map((t) => (
        <div key={t.id} className={`toast ${t.kind}`} data-testid="toast">
          <span className="text">{t.text}</span>
          {t.count > 1 && (
            <span className="count" data-testid="toast-count" aria-label={`${t.count} times`}>
              ×{t.count}
            </span>
          )}
          <button className="icon close" aria-label="Dismiss" title="Dismiss" onClick={() => dismiss(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
