import { afterEach, describe, expect, it } from "vitest";
import { applyTheme, resolveTheme, setTheme, storedTheme } from "./theme";

afterEach(() => {
  localStorage.clear();
  delete document.documentElement.dataset.theme;
});

describe("the theme", () => {
  it("follows the system unless light or dark is chosen", () => {
    expect(resolveTheme("system", true)).toBe("dark");
    expect(resolveTheme("system", false)).toBe("light");
    expect(resolveTheme("light", true)).toBe("light");
    expect(resolveTheme("dark", false)).toBe("dark");
  });

  it("is kept and shown on the document", () => {
    expect(storedTheme()).toBe("system");
    setTheme("dark");
    expect(storedTheme()).toBe("dark");
    expect(document.documentElement.dataset.theme).toBe("dark");
    delete document.documentElement.dataset.theme;
    applyTheme();
    expect(document.documentElement.dataset.theme).toBe("dark");
    setTheme("system");
    expect(localStorage.getItem("switchyard.theme")).toBeNull();
    expect(["light", "dark"]).toContain(document.documentElement.dataset.theme);
  });
});
