import { describe, expect, it } from "vitest";
import type { CredentialSlot } from "../gen/CredentialSlot";
import { expandSlots } from "./Credentials";

const slots: CredentialSlot[] = [
  { name: "model", label: "Model account", connectionTypes: ["llm.openaiCompatible"], required: true },
  { name: "agent", label: "Account of agent", connectionTypes: ["llm.openaiCompatible"], required: false, perEntry: "agents" },
];

describe("per-entry credential slots", () => {
  it("become one picker per named entry, keeping plain slots", () => {
    const out = expandSlots(slots, { agents: [{ name: "critic" }, { name: " writer " }, { name: "" }, { name: "critic" }] }, undefined);
    expect(out.map((s) => s.name)).toEqual(["model", "agent:critic", "agent:writer"]);
    expect(out[1].label).toBe("Account of agent “critic”");
    expect(out[1].required).toBe(false);
  });

  it("come from the list's default while the node has not written it", () => {
    const out = expandSlots(slots, {}, undefined, { agents: [{ name: "first" }, { name: "second" }] });
    expect(out.map((s) => s.name)).toEqual(["model", "agent:first", "agent:second"]);
  });

  it("keep an account of a renamed entry visible so it can be cleared", () => {
    const out = expandSlots(slots, { agents: [{ name: "critic" }] }, { "agent:old": { connection: "llm.openaiCompatible" } });
    expect(out.map((s) => s.name)).toEqual(["model", "agent:critic", "agent:old"]);
    expect(out[2].label).toContain("no such entry");
  });
});
