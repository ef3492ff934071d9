import { fireEvent, render } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { blocks, Markdown, safeUrl } from "./markdown";

describe("sticky note markdown", () => {
  it("renders headings, emphasis, lists, quotes and code", () => {
    const text = "# Plan\nThis is **bold**, *soft* and `code`.\nNext line\n\n- one\n- two\n1. first\n> quoted\n```\nlet x = 1;\n```\n---";
    const { container } = render(<Markdown text={text} open={() => undefined} />);
    expect(container.querySelector("h2")?.textContent).toBe("Plan");
    expect(container.querySelector("strong")?.textContent).toBe("bold");
    expect(container.querySelector("em")?.textContent).toBe("soft");
    expect(container.querySelector("p code")?.textContent).toBe("code");
    expect(container.querySelector("p br")).not.toBeNull();
    expect([...container.querySelectorAll("ul li")].map((li) => li.textContent)).toEqual(["one", "two"]);
    expect(container.querySelector("ol li")?.textContent).toBe("first");
    expect(container.querySelector("blockquote")?.textContent).toBe("quoted");
    expect(container.querySelector("pre code")?.textContent).toBe("let x = 1;");
    expect(container.querySelector("hr")).not.toBeNull();
    expect(blocks("a\n\nb").map((b) => b.kind)).toEqual(["p", "p"]);
  });

  it("never renders raw HTML from a note", () => {
    const text = '<script>window.hacked = 1</script> <img src=x onerror="window.hacked=2"> <b>x</b>';
    const { container } = render(<Markdown text={text} open={() => undefined} />);
    expect(container.querySelector("script, img, b")).toBeNull();
    expect(container.textContent).toContain("<script>window.hacked = 1</script>");
    expect((window as unknown as { hacked?: number }).hacked).toBeUndefined();
  });

  it("links only web and mail addresses, and a click asks the caller instead of navigating", () => {
    const open = vi.fn();
    const text = "[docs](https://example.com/docs) [bad](javascript:alert(1)) [file](file:///etc/passwd) see https://a.test/x and mailto:me@a.test";
    const { container } = render(<Markdown text={text} open={open} />);
    const links = [...container.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["https://example.com/docs", "https://a.test/x", "mailto:me@a.test"]);
    expect(container.querySelectorAll(".unsafe-link")).toHaveLength(2);
    const click = fireEvent.click(links[0]);
    expect(click).toBe(false); // default prevented: the webview does not navigate
    expect(open).toHaveBeenCalledWith("https://example.com/docs");
    expect(safeUrl(" HTTPS://x.test")).toBe(true);
    expect(safeUrl("data:text/html,x")).toBe(false);
  });
});
