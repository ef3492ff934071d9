import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LINGER_MS, Toasts, clearToasts, toast, useToastsBesidePanel } from "./toasts";

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  clearToasts();
  cleanup();
  vi.useRealTimers();
});

const texts = () => screen.queryAllByTestId("toast").map((t) => t.querySelector(".text")?.textContent);

function Panel({ open }: { open: boolean }) {
  useToastsBesidePanel(open);
  return null;
}

describe("toasts", () => {
  it("show at most three, newest on top, the oldest message going first", () => {
    render(<Toasts />);
    act(() => {
      toast("Saved the workflow", "error");
      toast("Imported orders.json");
      toast("Added “Set”", "success");
      toast("Renamed “Set” to “Totals”");
    });
    expect(texts()).toEqual(["Renamed “Set” to “Totals”", "Added “Set”", "Saved the workflow"]);
    act(() => toast("200 OK"));
    // Only messages are dropped while there are any: the error stays.
    expect(texts()).toEqual(["200 OK", "Renamed “Set” to “Totals”", "Saved the workflow"]);
  });

  it("go after a few seconds, but errors stay until closed", () => {
    render(<Toasts />);
    act(() => {
      toast("Could not reach the server", "error");
      toast("Copied");
    });
    act(() => vi.advanceTimersByTime(LINGER_MS + 10));
    expect(texts()).toEqual(["Could not reach the server"]);
    act(() => vi.advanceTimersByTime(60_000));
    expect(texts()).toEqual(["Could not reach the server"]);
    fireEvent.click(screen.getByRole("button", { name: "Dismiss" }));
    expect(texts()).toEqual([]);
  });

  it("count the same message up instead of stacking it, and keep it longer", () => {
    render(<Toasts />);
    act(() => toast("Saved"));
    act(() => vi.advanceTimersByTime(LINGER_MS - 500));
    act(() => {
      toast("Saved");
      toast("Saved");
    });
    expect(texts()).toEqual(["Saved"]);
    expect(screen.getByTestId("toast-count").textContent).toBe("×3");
    act(() => vi.advanceTimersByTime(1000));
    expect(texts()).toEqual(["Saved"]);
    act(() => vi.advanceTimersByTime(LINGER_MS));
    expect(texts()).toEqual([]);
  });

  it("move beside an open side panel", () => {
    const { rerender } = render(
      <>
        <Toasts />
        <Panel open={false} />
      </>,
    );
    expect(screen.getByTestId("toasts").className).toBe("toasts");
    rerender(
      <>
        <Toasts />
        <Panel open />
      </>,
    );
    expect(screen.getByTestId("toasts").className).toBe("toasts beside-panel");
    rerender(<Toasts />);
    expect(screen.getByTestId("toasts").className).toBe("toasts");
  });
});
