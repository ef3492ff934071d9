// Node icons as small SVGs (no icon font, no emoji: they render the same everywhere).
import type { NodeGroup } from "../gen/NodeGroup";

const paths: Record<string, string> = {
  play: "M8 5v14l11-7z",
  sparkles: "M12 3l1.8 5.2L19 10l-5.2 1.8L12 17l-1.8-5.2L5 10l5.2-1.8zM19 15l.8 2.2L22 18l-2.2.8L19 21l-.8-2.2L16 18l2.2-.8z",
  globe: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM3 12h18M12 3c2.5 2.5 3.5 5.5 3.5 9s-1 6.5-3.5 9c-2.5-2.5-3.5-5.5-3.5-9s1-6.5 3.5-9z",
  pencil: "M4 20h4l10-10-4-4L4 16zM13 7l4 4",
  filter: "M4 5h16l-6 8v6l-4-2v-4z",
  split: "M5 12h5M10 12l6-6h3M10 12l6 6h3",
  switch: "M4 12h4M8 12l4-6h7M8 12h11M8 12l4 6h7",
  merge: "M5 6h3l5 6h6M5 18h3l5-6",
  sort: "M7 4v16M4 17l3 3 3-3M17 20V4M14 7l3-3 3 3",
  scissors: "M6 6a2 2 0 1 0 0.01 0M6 18a2 2 0 1 0 0.01 0M8 7l12 10M8 17L20 7",
  "split-out": "M4 12h6M10 12l8-7M10 12h8M10 12l8 7",
  sigma: "M18 5H7l6 7-6 7h11",
  code: "M9 7l-5 5 5 5M15 7l5 5-5 5",
  clock: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 7v5l3 3",
  "arrow-right": "M4 12h15M14 7l5 5-5 5",
  alert: "M12 4L3 20h18zM12 10v4M12 17v0.5",
  webhook: "M9 8a3 3 0 1 1 5 2l-3 5M6 17a3 3 0 1 0 3-3M15 17h4a3 3 0 1 1-3 3",
  calendar: "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5",
  reply: "M10 8L4 13l6 5M4 13h10a6 6 0 0 1 6 6",
  send: "M4 12l16-8-6 16-3-7z",
  terminal: "M4 6l6 6-6 6M12 18h8",
  file: "M6 3h8l4 4v14H6zM14 3v4h4",
  hash: "M9 4L7 20M17 4l-2 16M4 9h16M3 15h16",
  table: "M4 5h16v14H4zM4 10h16M4 15h16M10 5v14",
  archive: "M4 4h16v4H4zM5 8v12h14V8M10 12h4",
  code_tags: "M8 8l-4 4 4 4M16 8l4 4-4 4M13 6l-2 12",
  calendar_clock: "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5M12 13v3l2 1",
  mail: "M3 6h18v12H3zM3 7l9 6 9-6",
  workflow: "M3 4h7v6H3zM14 14h7v6h-7zM6.5 10v7h7.5M17.5 14V7H10",
  database: "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
};

export const groupColors: Record<NodeGroup, string> = {
  trigger: "#f97316",
  flow: "#8b5cf6",
  data: "#0ea5e9",
  action: "#10b981",
};

export function NodeIcon({ name, group, size = 16 }: { name: string; group: NodeGroup; size?: number }) {
  const color = groupColors[group];
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke={color} strokeWidth={2} strokeLinecap="round" strokeLinejoin="round" aria-hidden>
      <path d={paths[name] ?? paths["arrow-right"]} fill={name === "play" ? color : "none"} />
    </svg>
  );
}
