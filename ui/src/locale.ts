// WebKitGTK reports the POSIX locale "C" (LANG unset, C or POSIX) as navigator.language,
// and Intl rejects that tag: uPlot formats numbers with it when it loads, so the whole app
// would fail to start. Such a locale reads as en-US. Imported first by main.tsx.
export function usableLanguage(language: string | undefined): string | null {
  try {
    new Intl.NumberFormat(language);
    return null;
  } catch {
    return "en-US";
  }
}

if (typeof navigator !== "undefined") {
  const replacement = usableLanguage(navigator.language);
  if (replacement) {
    Object.defineProperty(navigator, "language", { value: replacement, configurable: true });
    Object.defineProperty(navigator, "languages", { value: [replacement], configurable: true });
  }
}
