// Auto-layout: nodes in columns by their longest path from a start node, ordered within a
// column to keep wires short (barycentre sweeps), left to right.
import type { Workflow } from "../gen/Workflow";
import type { Position } from "./model";

export const COLUMN_WIDTH = 280;
export const ROW_HEIGHT = 130;

export function layout(workflow: Workflow): Record<string, Position> {
  const ids = workflow.nodes.map((n) => n.id);
  const preds = new Map<string, string[]>(ids.map((id) => [id, []]));
  const succs = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const c of workflow.connections) {
    if (!preds.has(c.to.node) || !succs.has(c.from.node)) continue;
    preds.get(c.to.node)!.push(c.from.node);
    succs.get(c.from.node)!.push(c.to.node);
  }

  // Longest-path layering (Kahn's order; a cycle, if any, is broken where it is met).
  const layer = new Map<string, number>();
  const remaining = new Map(ids.map((id) => [id, preds.get(id)!.length]));
  const queue = ids.filter((id) => remaining.get(id) === 0);
  while (queue.length) {
    const id = queue.shift()!;
    const l = Math.max(0, ...preds.get(id)!.map((p) => (layer.get(p) ?? -1) + 1));
    layer.set(id, l);
    for (const s of succs.get(id)!) {
      remaining.set(s, remaining.get(s)! - 1);
      if (remaining.get(s) === 0) queue.push(s);
    }
  }
  for (const id of ids) if (!layer.has(id)) layer.set(id, 0);

  const columns: string[][] = [];
  const byY = [...workflow.nodes].sort((a, b) => a.position[1] - b.position[1]);
  for (const n of byY) {
    const l = layer.get(n.id)!;
    (columns[l] ??= []).push(n.id);
  }
  const indexOf = () => {
    const map = new Map<string, number>();
    for (const col of columns) col?.forEach((id, i) => map.set(id, i));
    return map;
  };
  // Barycentre sweeps: order each column by the average position of its neighbours.
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? columns.map((_, i) => i) : columns.map((_, i) => columns.length - 1 - i);
    for (const c of order) {
      const col = columns[c];
      if (!col || col.length < 2) continue;
      const pos = indexOf();
      const key = (id: string) => {
        const neighbours = down ? preds.get(id)! : succs.get(id)!;
        if (neighbours.length === 0) return pos.get(id)!;
        return neighbours.reduce((sum, n) => sum + pos.get(n)!, 0) / neighbours.length;
      };
      const keys = new Map(col.map((id) => [id, key(id)]));
      col.sort((a, b) => keys.get(a)! - keys.get(b)!);
    }
  }

  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const positions: Record<string, Position> = {};
  columns.forEach((col, c) => {
    if (!col) return;
    const offset = ((tallest - col.length) * ROW_HEIGHT) / 2;
    col.forEach((id, r) => {
      positions[id] = [c * COLUMN_WIDTH, offset + r * ROW_HEIGHT];
    });
  });
  return positions;
}
