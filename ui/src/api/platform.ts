// Native dialogs, window closing and file drops, through Tauri plugins. Each falls back to
// something sensible outside the desktop shell so the UI can be developed in a browser.
import { call, inDesktopShell } from "./client";

declare global {
  interface Window {
    /** End-to-end tests queue the answers of file dialogs here: WebDriver cannot drive the
     * OS's own dialogs. Unset in normal use. */
    __SWITCHYARD_TEST_DIALOG_PATHS__?: string[];
  }
}

function queuedTestPath(): string | null | undefined {
  const queue = window.__SWITCHYARD_TEST_DIALOG_PATHS__;
  return queue && queue.length > 0 ? (queue.shift() ?? null) : undefined;
}

// The dialogs are the shell's (through the API): the app then reads or writes only the paths
// the user chose there or dropped on the window, never one the page names by itself.
export async function chooseSavePath(defaultName: string): Promise<string | null> {
  const queued = queuedTestPath();
  if (queued !== undefined) return queued;
  if (!inDesktopShell()) return null;
  return (await call("dialog_save_workflow", { defaultName })).path;
}

/** Where to save an item's file (any type): the OS's save dialog. */
export async function chooseSaveFilePath(defaultName: string): Promise<string | null> {
  const queued = queuedTestPath();
  if (queued !== undefined) return queued;
  if (!inDesktopShell()) return null;
  return (await call("dialog_save_file", { defaultName })).path;
}

export async function chooseOpenPath(): Promise<string | null> {
  const queued = queuedTestPath();
  if (queued !== undefined) return queued;
  if (!inDesktopShell()) return null;
  return (await call("dialog_open_workflow", {})).path;
}

/** Calls `shouldClose` when the user closes the window; closing goes ahead only if it says yes. */
export async function guardWindowClose(shouldClose: () => Promise<boolean>): Promise<() => void> {
  if (!inDesktopShell()) return () => {};
  const { getCurrentWindow } = await import("@tauri-apps/api/window");
  return getCurrentWindow().onCloseRequested(async (event) => {
    if (!(await shouldClose())) event.preventDefault();
  });
}

/** Calls `onDrop` with the paths of files dropped onto the window. */
export async function onFileDrop(onDrop: (paths: string[]) => void): Promise<() => void> {
  if (!inDesktopShell()) return () => {};
  const { getCurrentWebview } = await import("@tauri-apps/api/webview");
  return getCurrentWebview().onDragDropEvent((event) => {
    if (event.payload.type === "drop") onDrop(event.payload.paths);
  });
}

export async function setWindowTitle(title: string): Promise<void> {
  if (!inDesktopShell()) {
    document.title = title;
    return;
  }
  const { getCurrentWindow } = await import("@tauri-apps/api/window");
  await getCurrentWindow().setTitle(title);
}
