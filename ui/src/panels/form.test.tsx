import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { setTransport } from "../api/client";
import { descriptor, workflow } from "../test-support";
import { ParameterForm } from "./Fields";
import { formFields, isShown, newListEntry, parseNumberInput } from "./form";

describe("form generation from descriptors", () => {
  it("shows parameters by their conditions, with defaults", () => {
    const http = descriptor("http.request").parameters;
    const get = formFields(http, {});
    const names = get.map((f) => f.spec.name);
    expect(names).toContain("url");
    expect(names).not.toContain("bodyType");
    expect(names).not.toContain("jsonBody");
    expect(get.find((f) => f.spec.name === "method")?.value).toBe("GET");
    expect(get.find((f) => f.spec.name === "url")?.problem).toBe("URL is required");

    const post = formFields(http, { method: "POST", url: "{{ json.u }}" });
    expect(post.map((f) => f.spec.name)).toContain("jsonBody");
    expect(post.find((f) => f.spec.name === "url")?.isExpression).toBe(true);
    const form = formFields(http, { method: "POST", bodyType: "form" });
    expect(form.map((f) => f.spec.name)).toContain("formBody");
    expect(form.map((f) => f.spec.name)).not.toContain("jsonBody");
  });

  it("evaluates show-if against defaults", () => {
    const set = descriptor("data.set").parameters;
    const fields = set.find((p) => p.name === "fields")!;
    expect(isShown(fields, {}, set)).toBe(false);
    expect(isShown(fields, { keep: "selected" }, set)).toBe(true);
  });

  it("makes new list entries from field defaults", () => {
    const rules = descriptor("flow.switch").parameters.find((p) => p.name === "rules")!;
    if (rules.kind.type !== "list") throw new Error("rules is a list");
    expect(newListEntry(rules.kind.fields)).toEqual({ output: "", left: "", operator: "equals", right: "" });
  });

  it("picks a saved workflow by name, leaving out the one being edited", async () => {
    setTransport(async (command) => {
      if (command !== "workflow_list") throw new Error(`unexpected ${command}`);
      return {
        workflows: [
          { id: "wf", name: "Test" },
          { id: "enrich", name: "Enrich customer" },
        ],
      };
    });
    const onChange = vi.fn();
    const specs = descriptor("flow.execute_workflow").parameters;
    render(<ParameterForm specs={specs} values={{ workflowId: "gone" }} onChange={onChange} context={{ workflow: workflow(), nodeId: "s", runKey: null }} />);
    const picker = screen.getByLabelText("Saved workflow") as HTMLSelectElement;
    await screen.findByText("Enrich customer");
    const labels = Array.from(picker.options).map((o) => o.textContent);
    expect(labels).toEqual(["Choose a workflow…", "gone (not saved here)", "Enrich customer"]);
    fireEvent.change(picker, { target: { value: "enrich" } });
    expect(onChange).toHaveBeenLastCalledWith("workflowId", "enrich");
  });

  it("reads numbers and keeps expressions", () => {
    expect(parseNumberInput("42")).toBe(42);
    expect(parseNumberInput("{{ json.n }}")).toBe("{{ json.n }}");
    expect(parseNumberInput("")).toBeUndefined();
  });

  it("renders every kind of field and reports edits", async () => {
    setTransport(async () => ({ value: "preview!", hasInput: false }));
    const onChange = vi.fn();
    const specs = descriptor("http.request").parameters;
    render(<ParameterForm specs={specs} values={{ method: "POST", url: "{{ json.u }}" }} onChange={onChange} context={{ workflow: workflow(), nodeId: "s", runKey: null }} />);
    fireEvent.change(screen.getByLabelText("Method"), { target: { value: JSON.stringify("PUT") } });
    expect(onChange).toHaveBeenLastCalledWith("method", "PUT");
    fireEvent.change(screen.getByLabelText("URL"), { target: { value: "https://x" } });
    expect(onChange).toHaveBeenLastCalledWith("url", "https://x");
    fireEvent.click(screen.getByLabelText("Full response"));
    expect(onChange).toHaveBeenLastCalledWith("fullResponse", true);
    fireEvent.change(screen.getByLabelText("Timeout (seconds)"), { target: { value: "5" } });
    expect(onChange).toHaveBeenLastCalledWith("timeout", 5);
    fireEvent.click(screen.getByText("+ Add headers"));
    expect(onChange).toHaveBeenLastCalledWith("headers", [{ name: "", value: "" }]);
    expect(await screen.findByTestId("expression-preview")).toHaveProperty("textContent", expect.stringContaining("preview!"));
  });

  it("renders list parameters as sub-forms", () => {
    const onChange = vi.fn();
    const specs = descriptor("data.set").parameters;
    render(
      <ParameterForm
        specs={specs}
        values={{ assignments: [{ name: "a", value: "1", type: "auto" }] }}
        onChange={onChange}
        context={{ workflow: workflow(), nodeId: "s", runKey: null }}
      />,
    );
    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "b" } });
    expect(onChange).toHaveBeenLastCalledWith("assignments", [{ name: "b", value: "1", type: "auto" }]);
    fireEvent.click(screen.getByText("+ Add field"));
    expect(onChange).toHaveBeenLastCalledWith("assignments", [
      { name: "a", value: "1", type: "auto" },
      { name: "", value: "", type: "auto" },
    ]);
  });
});
