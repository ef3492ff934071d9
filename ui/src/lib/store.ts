// A tiny observable value for React (`useSyncExternalStore(store.subscribe, store.get)`).

/** A minimal observable store for React (`useSyncExternalStore`). */
export class Store<T> {
  private listeners = new Set<() => void>();
  constructor(private state: T) {}
  get = (): T => this.state;
  set = (next: T | ((prev: T) => T)): void => {
    const value = typeof next === "function" ? (next as (prev: T) => T)(this.state) : next;
    if (value === this.state) return;
    this.state = value;
    for (const l of this.listeners) l();
  };
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}
