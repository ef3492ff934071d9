// The one way the UI talks to Rust: `call(name, request)`, typed by the generated manifest.
import type { ApiError } from "../gen/ApiError";
import type { CommandName, Commands } from "../gen/commands";

export type Transport = (command: string, payload: unknown) => Promise<unknown>;

/** An API error with its stable code (see gen/ErrorCode.ts). */
export class ApiFailure extends Error {
  readonly code: ApiError["code"];
  readonly details: unknown;
  constructor(error: ApiError) {
    super(error.message);
    this.code = error.code;
    this.details = error.details;
  }
}

function isApiError(value: unknown): value is ApiError {
  return typeof value === "object" && value !== null && "code" in value && "message" in value;
}

async function tauriTransport(command: string, payload: unknown): Promise<unknown> {
  const { invoke } = await import("@tauri-apps/api/core");
  return invoke("api", { command, payload });
}

let transport: Transport = tauriTransport;

/** Replaces the transport (tests). */
export function setTransport(next: Transport): void {
  transport = next;
}

/** Whether the page runs inside the desktop shell. */
export function inDesktopShell(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

export async function call<K extends CommandName>(
  command: K,
  request: Commands[K]["request"],
): Promise<Commands[K]["response"]> {
  try {
    return (await transport(command, request)) as Commands[K]["response"];
  } catch (error) {
    if (isApiError(error)) throw new ApiFailure(error);
    throw new ApiFailure({ code: "internal", message: String(error), details: null });
  }
}

/** A readable message for any error thrown by `call`. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiFailure) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
