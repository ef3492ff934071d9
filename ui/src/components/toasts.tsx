// Short messages in the corner: errors, and what an action did.
import { useSyncExternalStore } from "react";
import { Store } from "../lib/store";

export interface Toast {
  id: number;
  kind: "info" | "success" | "error";
  text: string;
}

const toasts = new Store<Toast[]>([]);
let nextId = 1;

export function toast(text: string, kind: Toast["kind"] = "info", ms = kind === "error" ? 9000 : 4000): void {
  const id = nextId++;
  toasts.set((list) => [...list, { id, kind, text }].slice(-5));
  setTimeout(() => toasts.set((list) => list.filter((t) => t.id !== id)), ms);
}

export function Toasts() {
  const list = useSyncExternalStore(toasts.subscribe, toasts.get);
  return (
    <div className="toasts" role="status">
      {list.map((t) => (
        <div key={t.id} className={`toast ${t.kind}`} data-testid="toast">
          {t.text}
        </div>
      ))}
    </div>
  );
}
