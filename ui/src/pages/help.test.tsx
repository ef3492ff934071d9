import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { setTransport } from "../api/client";
import { blocks, cells, guidePage } from "../lib/markdown";
import { Help } from "./Help";

afterEach(cleanup);

const PAGES: Record<string, string> = {
  "desktop-app": "# The desktop app\n\nThe editor is where\nyou build. See [AI models](ai.md#errors) and [the web](https://example.com).\n\n| Keys | Does |\n|---|---|\n| Ctrl + S | Save |\n| `a \\| b` | Pipe |\n\n- **Palette**: every node type,\n  grouped and searchable.\n- Canvas\n",
  ai: "# AI models\n\nChat models.\n",
};

describe("the Help page", () => {
  it("lists the guide's pages, renders one with its table, and follows links between pages", async () => {
    const opened: string[] = [];
    setTransport(async (command, payload) => {
      if (command === "help_pages") return { pages: [{ name: "desktop-app", title: "The desktop app" }, { name: "ai", title: "AI models" }] };
      if (command === "help_page") {
        const name = (payload as { name: string }).name;
        return { name, title: PAGES[name].split("\n")[0].slice(2), text: PAGES[name] };
      }
      if (command === "link_open") {
        opened.push((payload as { url: string }).url);
        return {};
      }
      throw new Error(command);
    });
    render(<Help />);
    const text = await screen.findByTestId("help-text");
    await waitFor(() => expect(text.textContent).toContain("The editor is where you build."));
    expect(text.querySelectorAll("td")[2].textContent).toBe("a | b");
    expect(text.querySelector("li")?.textContent).toBe("Palette: every node type, grouped and searchable.");
    expect(await screen.findByTestId("help-ai")).toBeTruthy();
    fireEvent.click(screen.getByRole("link", { name: "the web" }));
    await waitFor(() => expect(opened).toEqual(["https://example.com"]));
    fireEvent.click(screen.getByRole("link", { name: "AI models" }));
    await waitFor(() => expect(text.textContent).toContain("Chat models."));
    expect(screen.getByTestId("help-ai").getAttribute("aria-current")).toBe("page");
  });

  it("reads tables and links to guide pages", () => {
    expect(cells("| a | `b \\| c` | d |")).toEqual(["a", "`b | c`", "d"]);
    expect(guidePage("ai.md")).toBe("ai");
    expect(guidePage("./workflow-format.md#node-settings")).toBe("workflow-format");
    expect(guidePage("../assets/examples/x.json")).toBeNull();
    expect(guidePage("https://example.com/a.md")).toBeNull();
    expect(blocks("| a |\n|---|\n| 1 |\ntext").map((b) => b.kind)).toEqual(["table", "p"]);
  });
});
