// The workflows list: search, create, open, rename, duplicate, delete; most recent first.
import { useCallback, useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import { chooseOpenPath } from "../api/platform";
import { confirm, prompt } from "../components/dialogs";
import { toast } from "../components/toasts";
import type { WorkflowSummary } from "../gen/WorkflowSummary";
import { setActive } from "../api/workflows";
import { relativeTime } from "../lib/time";
import { TemplateGallery } from "../components/TemplateGallery";

export function WorkflowList({ onOpen, onHelp }: { onOpen: (id: string) => void; onHelp?: () => void }) {
  const [search, setSearch] = useState("");
  const [list, setList] = useState<WorkflowSummary[] | null>(null);
  const [gallery, setGallery] = useState(false);
  const refresh = useCallback(() => {
    call("workflow_list", { search: search || undefined })
      .then((r) => setList(r.workflows))
      .catch((e) => toast(errorMessage(e), "error"));
  }, [search]);
  useEffect(() => {
    const t = setTimeout(refresh, 120);
    return () => clearTimeout(t);
  }, [refresh]);

  const create = async () => {
    const name = await prompt("New workflow", "", "Name");
    if (name === null) return;
    try {
      const record = await call("workflow_create", { name });
      onOpen(record.workflow.id);
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  const run = async (what: Promise<unknown>, done?: string) => {
    try {
      await what;
      if (done) toast(done, "success");
      refresh();
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  // An imported workflow gets a new id (whoever has the file knows its id, and webhook URLs
  // are made of it) unless the user keeps it, e.g. moving their own workflow to this computer.
  const importFile = async (keepId: boolean) => {
    const path = await chooseOpenPath();
    if (!path) return;
    try {
      const r = await call("workflow_import_file", { path, keepId });
      for (const note of r.notes) toast(note);
      onOpen(r.record.workflow.id);
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };

  return (
    <div className="list-page">
      <h1>Workflows</h1>
      <div className="list-toolbar">
        <input type="search" placeholder="Search workflows" aria-label="Search workflows" value={search} onChange={(e) => setSearch(e.target.value)} />
        <span className="spacer" />
        <button onClick={() => void importFile(false)}>Import…</button>
        <button onClick={() => void importFile(true)} title="Keeps the file's workflow id, so its webhook URLs stay the same (for your own workflows)">
          Import keeping its id…
        </button>
        <button onClick={() => setGallery(!gallery)} data-testid="new-from-template">
          New from template…
        </button>
        <button className="primary" onClick={create} data-testid="new-workflow">
          New workflow
        </button>
      </div>
      {list === null && <div className="muted">Loading…</div>}
      {(gallery || (list?.length === 0 && !search)) && <TemplateGallery onOpen={onOpen} onClose={list?.length ? () => setGallery(false) : undefined} />}
      {list?.length === 0 && !search && (
        <div className="first-steps" data-testid="first-steps">
          <h2>First steps</h2>
          <ol>
            <li>Open an example above, or press <strong>New workflow</strong>: it starts with a Manual Trigger.</li>
            <li>Drag nodes from the palette onto the canvas and wire an output to an input; double-click a node to set it up.</li>
            <li>Press <strong>Run</strong> (Ctrl+Enter) and click a node to see the items it made.</li>
            <li>Accounts for the services you use go on the <strong>Connections</strong> page, into the encrypted vault.</li>
          </ol>
          {onHelp && (
            <button className="link" onClick={onHelp} data-testid="open-guide">
              Read the guide (Help): the editor, nodes, expressions and more →
            </button>
          )}
        </div>
      )}
      {list?.length === 0 && (
        <div className="empty">{search ? `No workflow matches “${search}”.` : "No workflows yet. Start from a template above, create one, or import a workflow file (you can also drop it on this window)."}</div>
      )}
      <div className="workflow-rows">
        {list?.map((w) => (
          <div key={w.id} className="workflow-row" onClick={() => onOpen(w.id)} data-testid="workflow-row">
            <div style={{ flex: 1, minWidth: 0 }}>
              <div className="name">
                {w.name}
                {w.untrusted && (
                  <span className="untrusted-tag" title="Imported and not trusted yet: it runs nothing that uses an account or reaches this computer until you review and trust it">
                    untrusted
                  </span>
                )}
                {w.active && (
                  <span className="active-badge" data-testid="active-badge">
                    active
                  </span>
                )}
              </div>
              <div className="meta">
                {w.nodeCount} node{w.nodeCount === 1 ? "" : "s"} · updated {relativeTime(w.updatedAt)}
                {w.description && ` · ${w.description}`}
              </div>
            </div>
            <div className="actions" onClick={(e) => e.stopPropagation()}>
              <label className="switch" title="An active workflow's Webhook and Schedule triggers are served">
                <input
                  type="checkbox"
                  checked={w.active}
                  onChange={async () => {
                    if (await setActive(w.id, w.name, !w.active)) refresh();
                  }}
                  data-testid="active-toggle"
                />
                Active
              </label>
              <button
                onClick={async () => {
                  const name = await prompt("Rename workflow", w.name);
                  if (name !== null && name !== w.name) void run(call("workflow_rename", { id: w.id, name }));
                }}
              >
                Rename
              </button>
              <button onClick={() => run(call("workflow_duplicate", { id: w.id }), `Duplicated “${w.name}”`)}>Duplicate</button>
              <button
                className="danger"
                onClick={async () => {
                  if (await confirm("Delete workflow", `Delete “${w.name}” and its execution history? This cannot be undone.`, "Delete", true)) {
                    void run(call("workflow_delete", { id: w.id }), `Deleted “${w.name}”`);
                  }
                }}
              >
                Delete
              </button>
            </div>
          </div>
        ))}
      </div>
    </div>
  );
}
