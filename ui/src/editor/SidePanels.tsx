// The side panel the editor shows: a node's form, the workflow's settings, or its
// execution history.
import { errorMessage } from "../api/client";
import { toast, useToastsBesidePanel } from "../components/toasts";
import type { Execution } from "../gen/Execution";
import type { NodeDescriptor } from "../gen/NodeDescriptor";
import type { ValidationIssue } from "../gen/ValidationIssue";
import type { Workflow } from "../gen/Workflow";
import type { WorkflowRecord } from "../gen/WorkflowRecord";
import { History } from "../panels/History";
import { type DiffMarks, Versions } from "../panels/Versions";
import { NodePanel } from "../panels/NodePanel";
import { WorkflowSettingsPanel } from "../panels/WorkflowSettings";
import type { Side } from "./EditorToolbar";
import { descriptorKey } from "./model";
import type { RunView } from "./run";
import * as S from "./store";

interface Props {
  side: Side;
  workflow: Workflow;
  /** The saved workflow's id (the history is of it, also while a past run is shown). */
  workflowId: string;
  openNode: string | null;
  descriptors: Map<string, NodeDescriptor>;
  issues: Map<string, ValidationIssue[]>;
  run: RunView;
  viewing: Execution | null;
  initialFailedRuns?: boolean;
  update: (f: (s: S.EditorState) => S.EditorState) => void;
  onManageConnections: () => void;
  /** A past run, here or (`server`) on a server it was deployed to. */
  onOpenExecution: (id: string, server?: string) => void;
  /** The saved version the editor holds, and whether it has unsaved edits. */
  version: number | null;
  dirty: boolean;
  onMarks: (marks: DiffMarks | null) => void;
  onRestored: (record: WorkflowRecord) => void;
  onClose: () => void;
}

export function SidePanels(p: Props) {
  const readOnly = p.viewing !== null;
  const node = p.openNode ? p.workflow.nodes.find((n) => n.id === p.openNode) : undefined;
  useToastsBesidePanel(p.side !== null && (p.side !== "node" || node !== undefined));
  if (p.side === "node" && node) {
    return (
      <NodePanel
        key={node.id}
        node={node}
        descriptor={p.descriptors.get(descriptorKey(node.type, node.version))}
        issues={p.issues.get(node.id) ?? []}
        context={{ workflow: p.workflow, nodeId: node.id, runKey: p.run.executionId && !p.run.running ? p.run.executionId : null }}
        readOnly={readOnly}
        onRename={(name) => {
          try {
            p.update((s) => S.renameNode(s, node.id, name));
          } catch (e) {
            toast(errorMessage(e), "error");
          }
        }}
        onParameter={(name, value) => p.update((s) => S.setParameter(s, node.id, name, value, p.descriptors))}
        onSettings={(settings) => p.update((s) => S.setSettings(s, node.id, settings, p.descriptors))}
        onCredential={(slot, ref) => p.update((s) => S.setCredential(s, node.id, slot, ref))}
        onManageConnections={p.onManageConnections}
        onClose={p.onClose}
      />
    );
  }
  if (p.side === "settings") {
    return (
      <WorkflowSettingsPanel
        workflow={p.workflow}
        readOnly={readOnly}
        onChange={(change, accounts) => p.update((s) => S.setWorkflowSettings(s, change, accounts))}
        onManageConnections={p.onManageConnections}
        onClose={p.onClose}
      />
    );
  }
  if (p.side === "history") {
    return (
      <History
        workflowId={p.workflowId}
        activeId={p.viewing?.summary.id ?? null}
        refreshKey={p.run.status}
        initialFailedOnly={p.initialFailedRuns}
        onOpen={p.onOpenExecution}
        onClose={p.onClose}
      />
    );
  }
  if (p.side === "versions") {
    return (
      <Versions
        workflowId={p.workflowId}
        version={p.version}
        dirty={p.dirty}
        refreshKey={p.version}
        onMarks={p.onMarks}
        onRestored={p.onRestored}
        onClose={p.onClose}
      />
    );
  }
  return null;
}
