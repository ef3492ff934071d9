// Shared test data: the real node descriptors (generated from Rust) and small workflows.
import nodeTypes from "./gen/node-types.json";
import type { NodeDescriptor } from "./gen/NodeDescriptor";
import type { Workflow } from "./gen/Workflow";
import { defaultSettings } from "./editor/model";

export const descriptors = nodeTypes as unknown as NodeDescriptor[];

export function descriptor(type: string): NodeDescriptor {
  const d = descriptors.find((x) => x.type === type);
  if (!d) throw new Error(`no descriptor for ${type}`);
  return d;
}

export function descriptorMap(): Map<string, NodeDescriptor> {
  return new Map(descriptors.map((d) => [`${d.type}@${d.version}`, d]));
}

export function workflow(): Workflow {
  return {
    switchyard: 1,
    id: "wf",
    name: "Test",
    description: "",
    nodes: [
      { id: "t", name: "Start", type: "trigger.manual", version: 1, position: [0, 0], parameters: {}, settings: defaultSettings() },
      { id: "s", name: "Set", type: "data.set", version: 1, position: [300, 0], parameters: {}, settings: defaultSettings() },
    ],
    connections: [{ from: { node: "t", output: "main" }, to: { node: "s", input: "main" } }],
    settings: { timezone: "UTC", timeoutSeconds: 3600, errorWorkflow: null },
  };
}
