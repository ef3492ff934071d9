// API events from Rust (run progress, node data), delivered as the Tauri event "api-event".
import type { ApiEvent } from "../gen/ApiEvent";
import { inDesktopShell } from "./client";

export type EventHandler = (event: ApiEvent) => void;

const handlers = new Set<EventHandler>();
let started = false;

async function start(): Promise<void> {
  if (started || !inDesktopShell()) return;
  started = true;
  const { listen } = await import("@tauri-apps/api/event");
  await listen<ApiEvent>("api-event", (message) => {
    for (const handler of handlers) handler(message.payload);
  });
}

/** Subscribes to API events; returns the unsubscribe function. */
export function onApiEvent(handler: EventHandler): () => void {
  handlers.add(handler);
  void start();
  return () => handlers.delete(handler);
}

/** Delivers an event to subscribers (tests, and replaying stored runs). */
export function dispatchApiEvent(event: ApiEvent): void {
  for (const handler of handlers) handler(event);
}
