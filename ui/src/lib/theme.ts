// The app's colour theme: the OS's (system), light or dark. The choice is kept in this
// window's storage; the document gets data-theme="light" | "dark", which the styles read.

import { Store } from "./store";

export type ThemeChoice = "system" | "light" | "dark";

/** The theme shown now, for parts that style themselves (the canvas). */
export const shownTheme = new Store<"light" | "dark">("light");

const KEY = "switchyard.theme";
const DARK = "(prefers-color-scheme: dark)";

export function storedTheme(): ThemeChoice {
  try {
    const value = localStorage.getItem(KEY);
    return value === "light" || value === "dark" ? value : "system";
  } catch {
    return "system";
  }
}

/** What a choice shows, given whether the OS prefers dark. */
export function resolveTheme(choice: ThemeChoice, prefersDark: boolean): "light" | "dark" {
  return choice === "system" ? (prefersDark ? "dark" : "light") : choice;
}

let unfollow: (() => void) | null = null;

/** Applies `choice` to the document; "system" follows the OS while it changes. */
export function applyTheme(choice: ThemeChoice = storedTheme()): void {
  unfollow?.();
  unfollow = null;
  const media = typeof window.matchMedia === "function" ? window.matchMedia(DARK) : null;
  const show = () => {
    const theme = resolveTheme(choice, media?.matches ?? false);
    document.documentElement.dataset.theme = theme;
    shownTheme.set(theme);
  };
  show();
  if (choice === "system" && media) {
    media.addEventListener("change", show);
    unfollow = () => media.removeEventListener("change", show);
  }
}

/** Keeps `choice` and applies it. */
export function setTheme(choice: ThemeChoice): void {
  try {
    if (choice === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // Not kept: it still applies to this window.
  }
  applyTheme(choice);
}
