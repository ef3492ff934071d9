// Breakpoints: the nodes a run started in the editor pauses before. Like an IDE's, they
// belong to this computer's editor rather than to the shared file: kept per workflow in
// local storage, and sent to a run that is going at once.
import { useCallback, useEffect, useRef, useState } from "react";
import { call } from "../api/client";

const keyOf = (workflowId: string) => `switchyard.breakpoints.${workflowId}`;

function load(workflowId: string): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(keyOf(workflowId)) ?? "[]");
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}

/** Adds the breakpoints of `nodeIds`, or removes them when all have one. */
export function toggled(current: string[], nodeIds: string[]): string[] {
  const all = nodeIds.length > 0 && nodeIds.every((id) => current.includes(id));
  return all ? current.filter((id) => !nodeIds.includes(id)) : [...new Set([...current, ...nodeIds])];
}

export function useBreakpoints(workflowId: string, liveRun: string | null) {
  const [ids, setIds] = useState<string[]>(() => load(workflowId));
  useEffect(() => setIds(load(workflowId)), [workflowId]);
  const toggle = useCallback(
    (nodeIds: string[]) =>
      setIds((prev) => {
        const next = toggled(prev, nodeIds);
        localStorage.setItem(keyOf(workflowId), JSON.stringify(next));
        return next;
      }),
    [workflowId],
  );
  // A run going now takes a change at once (a node marked while an earlier one runs pauses).
  const live = useRef(liveRun);
  live.current = liveRun;
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (live.current) void call("run_debug", { executionId: live.current, breakpoints: ids }).catch(() => undefined);
  }, [ids]);
  return { ids, toggle };
}
