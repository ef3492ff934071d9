// The keyboard shortcuts, shown with "?" or the toolbar's help button.
export const SHORTCUTS: [string, string][] = [
  ["Ctrl/Cmd + S", "Save"],
  ["Ctrl/Cmd + Enter", "Run the workflow"],
  ["Ctrl/Cmd + Z", "Undo"],
  ["Shift + Ctrl/Cmd + Z, Ctrl + Y", "Redo"],
  ["Ctrl/Cmd + C / X / V", "Copy, cut, paste nodes (as workflow JSON)"],
  ["Ctrl/Cmd + D", "Duplicate the selection"],
  ["Ctrl/Cmd + A", "Select all nodes"],
  ["Delete, Backspace", "Delete the selection"],
  ["Shift + drag", "Select with a box"],
  ["Enter, double-click", "Open the selected node"],
  ["F2", "Rename the selected node"],
  ["Menu key, Shift + F10", "The selected node's menu (arrows move, Enter chooses; Connect to… wires it)"],
  ["Shift + S", "Add a sticky note"],
  ["F9", "Add or remove a breakpoint on the selected nodes"],
  ["F8 / F10", "At a breakpoint: continue / step"],
  ["Alt + L", "Tidy up (auto-layout)"],
  ["Alt + F", "Fit the workflow in view"],
  ["/", "Search the node palette"],
  ["Escape", "Close panels and menus"],
  ["?", "This help"],
];

export function HelpOverlay({ onClose }: { onClose: () => void }) {
  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <div className="dialog" role="dialog" aria-label="Keyboard shortcuts" onKeyDown={(e) => e.key === "Escape" && onClose()}>
        <h2>Keyboard shortcuts</h2>
        <div className="shortcuts">
          {SHORTCUTS.map(([keys, what]) => (
            <div key={keys} style={{ display: "contents" }}>
              <span>
                {keys.split(", ").map((k, i) => (
                  <span key={k}>
                    {i > 0 && " or "}
                    <kbd>{k}</kbd>
                  </span>
                ))}
              </span>
              <span>{what}</span>
            </div>
          ))}
        </div>
        <div className="buttons">
          <button className="primary" autoFocus onClick={onClose}>
            Close
          </button>
        </div>
      </div>
    </div>
  );
}
