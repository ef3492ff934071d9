import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { setTransport } from "../api/client";
import { workflow } from "../test-support";
import { TemplateGallery } from "./TemplateGallery";

describe("template gallery", () => {
  it("shows each template with its description and drawing, and makes a workflow from one", async () => {
    const calls: string[] = [];
    setTransport(async (command, payload) => {
      calls.push(command);
      if (command === "template_list")
        return {
          templates: [{ id: "example:hello-world", name: "Hello world", description: "Greets whoever is in the input.", source: "example", nodeCount: 2, workflow: workflow() }],
          folder: "/data/templates",
          problems: ["broken.json:1:17: malformed JSON"],
        };
      if (command === "template_use") {
        expect(payload).toEqual({ id: "example:hello-world" });
        return { workflow: { ...workflow(), id: "new-id" }, version: 1, active: false, createdAt: "", updatedAt: "" };
      }
      throw new Error(`unexpected ${command}`);
    });
    const onOpen = vi.fn();
    render(<TemplateGallery onOpen={onOpen} />);
    await screen.findByText("Greets whoever is in the input.");
    expect(screen.getByRole("img", { name: "2 nodes" })).toBeTruthy();
    expect(screen.getByText("broken.json:1:17: malformed JSON")).toBeTruthy();
    fireEvent.click(screen.getByTestId("use-example:hello-world"));
    await vi.waitFor(() => expect(onOpen).toHaveBeenCalledWith("new-id"));
    expect(calls).toEqual(["template_list", "template_use"]);
  });
});
