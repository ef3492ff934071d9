// The UI's layout rules (docs/architecture.md): pages import from components/, lib/, api/,
// editor/, canvas/ and panels/, never from another page; nothing outside pages/ imports a
// page (the App puts pages together).
import { describe, expect, it } from "vitest";

const sources = import.meta.glob(["./**/*.ts", "./**/*.tsx", "!./gen/**", "!./**/*.test.ts", "!./**/*.test.tsx"], {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

function imports(text: string): string[] {
  return [...text.matchAll(/^import[^"]*"([^"]+)";/gm)].map((m) => m[1]);
}

describe("layout", () => {
  it("reads the source tree", () => {
    expect(Object.keys(sources).length).toBeGreaterThan(40);
  });

  it("keeps pages apart: no page imports another, nothing but the App imports a page", () => {
    const found: string[] = [];
    for (const [file, text] of Object.entries(sources)) {
      const inPages = file.startsWith("./pages/");
      for (const spec of imports(text)) {
        const toPage = inPages ? /^\.\/[A-Z]/.test(spec) : spec.startsWith("../pages/") || spec.startsWith("./pages/");
        if (toPage && file !== "./App.tsx") found.push(`${file} imports ${spec}`);
      }
    }
    expect(found).toEqual([]);
  });
});
