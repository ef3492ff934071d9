// Timing marks the benchmarks read (`cargo xtask bench ui`): wall-clock times in ms.
export interface Marks {
  /** When the page started loading. */
  start: number;
  /** The first frame after the app rendered. */
  firstPaint?: number;
  /** When the editor began opening a workflow. */
  editorOpen?: number;
  /** When every node of the opened workflow had been laid out on the canvas. */
  canvasReady?: number;
  canvasNodes?: number;
}

declare global {
  interface Window {
    __switchyardMarks?: Marks;
  }
}

export function marks(): Marks {
  if (!window.__switchyardMarks) window.__switchyardMarks = { start: performance.timeOrigin };
  return window.__switchyardMarks;
}

/** Records `name` at the next painted frame. */
export function markAfterPaint(set: (m: Marks, now: number) => void): void {
  requestAnimationFrame(() => requestAnimationFrame(() => set(marks(), Date.now())));
}
