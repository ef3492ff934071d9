// The template gallery: the examples shipped with the app and the user's own templates
// folder, each with its description and a small drawing of its canvas; "Use" makes a new
// workflow from it.
import { useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import type { Template } from "../gen/Template";
import type { Workflow } from "../gen/Workflow";

/** The workflow's nodes as boxes and its connections as lines, scaled into a small box. */
export function CanvasPreview({ workflow, width = 220, height = 90 }: { workflow: Workflow; width?: number; height?: number }) {
  const boxW = 120;
  const boxH = 50;
  const xs = workflow.nodes.map((n) => n.position[0]);
  const ys = workflow.nodes.map((n) => n.position[1]);
  const minX = Math.min(0, ...xs);
  const minY = Math.min(0, ...ys);
  const spanX = Math.max(1, Math.max(...xs, 0) - minX + boxW);
  const spanY = Math.max(1, Math.max(...ys, 0) - minY + boxH);
  const scale = Math.min((width - 8) / spanX, (height - 8) / spanY, 0.6);
  const at = (id: string) => workflow.nodes.find((n) => n.id === id);
  const px = (x: number) => 4 + (x - minX) * scale;
  const py = (y: number) => 4 + (y - minY) * scale;
  return (
    <svg className="canvas-preview" width={width} height={height} role="img" aria-label={`${workflow.nodes.length} nodes`}>
      {workflow.connections.map((c, i) => {
        const from = at(c.from.node);
        const to = at(c.to.node);
        if (!from || !to) return null;
        return (
          <line
            key={i}
            x1={px(from.position[0] + boxW)}
            y1={py(from.position[1] + boxH / 2)}
            x2={px(to.position[0])}
            y2={py(to.position[1] + boxH / 2)}
            stroke="currentColor"
            strokeOpacity={0.45}
          />
        );
      })}
      {workflow.nodes.map((n) => (
        <rect key={n.id} x={px(n.position[0])} y={py(n.position[1])} width={boxW * scale} height={boxH * scale} rx={3} className="preview-node">
          <title>{n.name}</title>
        </rect>
      ))}
    </svg>
  );
}

export function TemplateGallery({ onOpen, onClose }: { onOpen: (id: string) => void; onClose?: () => void }) {
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [folder, setFolder] = useState("");
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call("template_list", {})
      .then((r) => {
        setTemplates(r.templates);
        setFolder(r.folder);
        setProblems(r.problems);
      })
      .catch((e) => setError(errorMessage(e)));
  }, []);
  const use = async (t: Template) => {
    try {
      const record = await call("template_use", { id: t.id });
      onOpen(record.workflow.id);
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  return (
    <section className="template-gallery" aria-label="Templates" data-testid="template-gallery">
      <header className="row">
        <h2>New from template</h2>
        <span className="spacer" />
        {onClose && (
          <button className="icon" aria-label="Close templates" onClick={onClose}>
            ×
          </button>
        )}
      </header>
      {error && <div className="error-text">{error}</div>}
      {templates === null && !error && <div className="muted">Loading…</div>}
      <div className="template-cards">
        {templates?.map((t) => (
          <div key={t.id} className="template-card" data-testid="template-card">
            <CanvasPreview workflow={t.workflow} />
            <div className="name">
              {t.name} {t.source === "mine" && <span className="muted">· yours</span>}
            </div>
            <div className="muted description">{t.description}</div>
            <button className="primary" onClick={() => void use(t)} data-testid={`use-${t.id}`}>
              Use
            </button>
          </div>
        ))}
      </div>
      <div className="muted">
        Your own templates: workflow files in <span className="mono">{folder}</span>.
        {problems.map((p) => (
          <div key={p} className="problem">
            {p}
          </div>
        ))}
      </div>
    </section>
  );
}
