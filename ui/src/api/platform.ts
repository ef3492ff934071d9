// Native dialogs, window closing and file drops, through Tauri plugins. Each falls back to
// something sensible outside the desktop shell so the UI can be developed in a browser.
import { inDesktopShell } from "./client";

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

export async function chooseSavePath(defaultName: string): Promise<string | null> {
  const queued = queuedTestPath();
  if (queued !== undefined) return queued;
  if (!inDesktopShell()) return null;
  const { save } = await import("@tauri-apps/plugin-dialog");
  return save({ defaultPath: defaultName, filters: [{ name: "Switchyard workflow", extensions: ["json"] }] });
}

export async function chooseOpenPath(): Promise<string | null> {
  const queued = queuedTestPath();
  if (queued !== undefined) return queued;
  if (!inDesktopShell()) return null;
  const { open } = await import("@tauri-apps/plugin-dialog");
  const picked = await open({ multiple: false, filters: [{ name: "Switchyard workflow", extensions: ["json"] }] });
  return typeof picked === "string" ? picked : null;
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
