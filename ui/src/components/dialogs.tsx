// In-app dialogs (confirm, prompt, choice). They stay inside the window, so keyboard users
// and end-to-end tests drive them like the rest of the UI.
import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import { Store } from "../lib/store";

interface DialogRequest {
  title: string;
  message?: string;
  input?: { value: string; placeholder?: string; secret?: boolean };
  /** A list to choose one entry of (its value is the result's text). */
  list?: { value: string; label: string }[];
  buttons: { label: string; value: string; kind?: "primary" | "danger" }[];
  resolve: (result: { button: string; text: string } | null) => void;
}

const current = new Store<DialogRequest | null>(null);

function open(request: Omit<DialogRequest, "resolve">): Promise<{ button: string; text: string } | null> {
  return new Promise((resolve) => current.set({ ...request, resolve }));
}

export async function confirm(title: string, message: string, action = "OK", danger = false): Promise<boolean> {
  const result = await open({
    title,
    message,
    buttons: [
      { label: "Cancel", value: "cancel" },
      { label: action, value: "ok", kind: danger ? "danger" : "primary" },
    ],
  });
  return result?.button === "ok";
}

export async function prompt(title: string, value = "", placeholder = ""): Promise<string | null> {
  const result = await open({
    title,
    input: { value, placeholder },
    buttons: [
      { label: "Cancel", value: "cancel" },
      { label: "OK", value: "ok", kind: "primary" },
    ],
  });
  return result?.button === "ok" ? result.text : null;
}

/** Asks for a password (the text is hidden); null when cancelled. */
export async function askPassword(title: string, message: string, action = "OK"): Promise<string | null> {
  const result = await open({
    title,
    message,
    input: { value: "", placeholder: "Master password", secret: true },
    buttons: [
      { label: "Cancel", value: "cancel" },
      { label: action, value: "ok", kind: "primary" },
    ],
  });
  return result?.button === "ok" ? result.text : null;
}

/** Several choices; resolves with the chosen value, or null when dismissed. */
export async function choose(title: string, message: string, buttons: DialogRequest["buttons"]): Promise<string | null> {
  const result = await open({ title, message, buttons });
  return result?.button ?? null;
}

/** One entry of a list (keyboard: arrows, Enter); its value, or null when cancelled. */
export async function pick(title: string, message: string, options: { value: string; label: string }[], action = "OK"): Promise<string | null> {
  if (options.length === 0) return null;
  const result = await open({
    title,
    message,
    list: options,
    buttons: [
      { label: "Cancel", value: "cancel" },
      { label: action, value: "ok", kind: "primary" },
    ],
  });
  return result?.button === "ok" ? result.text : null;
}

export function DialogHost() {
  const request = useSyncExternalStore(current.subscribe, current.get);
  const [text, setText] = useState("");
  const inputRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLSelectElement>(null);
  const firstButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    setText(request?.input?.value ?? request?.list?.[0]?.value ?? "");
    setTimeout(() => (request?.input ? inputRef.current?.select() : request?.list ? listRef.current?.focus() : firstButton.current?.focus()), 0);
  }, [request]);
  if (!request) return null;
  const finish = (button: string | null) => {
    current.set(null);
    request.resolve(button === null ? null : { button, text });
  };
  const primary = request.buttons.find((b) => b.kind === "primary") ?? request.buttons[request.buttons.length - 1];
  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && finish(null)}>
      <div
        className="dialog"
        role="dialog"
        aria-label={request.title}
        onKeyDown={(e) => {
          if (e.key === "Escape") finish(null);
          if (e.key === "Enter" && (request.input || request.list)) finish(primary.value);
          e.stopPropagation();
        }}
      >
        <h2>{request.title}</h2>
        {request.message && <div style={{ whiteSpace: "pre-line", overflowWrap: "anywhere" }}>{request.message}</div>}
        {request.input && (
          <input ref={inputRef} aria-label={request.title} type={request.input.secret ? "password" : "text"} value={text} placeholder={request.input.placeholder} onChange={(e) => setText(e.target.value)} />
        )}
        {request.list && (
          <select ref={listRef} aria-label={request.title} size={Math.min(8, Math.max(2, request.list.length))} value={text} onChange={(e) => setText(e.target.value)} onDoubleClick={() => finish(primary.value)} data-testid="dialog-list">
            {request.list.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        )}
        <div className="buttons">
          {request.buttons.map((b, i) => (
            <button key={b.value} ref={i === request.buttons.length - 1 ? firstButton : undefined} className={b.kind ?? ""} onClick={() => finish(b.value)}>
              {b.label}
            </button>
          ))}
        </div>
      </div>
    </div>
  );
}
