import { describe, expect, it } from "vitest";
import { panToShow } from "./Canvas";

const pane = { width: 800, height: 600 };

describe("keeping the open node in view", () => {
  it("leaves a node that is fully visible where it is", () => {
    expect(panToShow({ x: 100, y: 100, width: 200, height: 80 }, { x: 0, y: 0, zoom: 1 }, pane)).toBeNull();
  });

  it("pans a node the narrowed canvas cut off at its right edge back in, with a margin", () => {
    // At zoom 1.5 the node spans 900–1200 px on screen; the pane is 800 px wide.
    const to = panToShow({ x: 600, y: 100, width: 200, height: 80 }, { x: 0, y: 0, zoom: 1.5 }, pane);
    expect(to).toEqual({ x: 800 - 24 - 1200, y: 0 });
  });

  it("pans from the left and from above, and aligns a node larger than the pane to its top left", () => {
    expect(panToShow({ x: -50, y: -20, width: 100, height: 40 }, { x: 0, y: 0, zoom: 1 }, pane)).toEqual({ x: 74, y: 44 });
    expect(panToShow({ x: 0, y: 0, width: 1000, height: 40 }, { x: 100, y: 100, zoom: 1 }, pane)).toEqual({ x: 24, y: 100 });
  });
});
