// Running the workflow and viewing runs: live run events, starting and stopping a run,
// opening a past run read-only, and offering to allow a host an account was refused.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiFailure, call, errorMessage } from "../api/client";
import { onApiEvent } from "../api/events";
import { choose } from "../components/dialogs";
import { toast } from "../components/toasts";
import type { DebugAction } from "../gen/DebugAction";
import type { Execution } from "../gen/Execution";
import type { ValidationIssue } from "../gen/ValidationIssue";
import type { Store } from "../lib/store";
import { applyEvent, emptyRun, fromExecution, type RunView } from "./run";
import type { EditorState } from "./store";

interface Options {
  store: Store<EditorState>;
  /** A run refused because the workflow is not trusted opens the review. */
  openReview: () => Promise<void>;
  /** A run refused because the workflow is invalid shows its problems. */
  setIssues: (issues: ValidationIssue[]) => void;
  /** A run started or a past run opened: the inspector shows it. */
  onShow: () => void;
  /** The breakpoints a run started here pauses before (node ids). */
  breakpoints: () => string[];
}

export function useRunView({ store, openReview, setIssues, onShow, breakpoints }: Options) {
  const [run, setRun] = useState<RunView>(emptyRun);
  const [viewing, setViewing] = useState<Execution | null>(null);
  /** The server the viewed run is on (a `switchyard.server` account's label); null: here. */
  const [viewingServer, setViewingServer] = useState<string | null>(null);
  const workflowId = store.get().workflow.id;
  const lastRun = useRef<string | null>(null);
  lastRun.current = run.executionId;

  // Live run events for this workflow.
  useEffect(() => onApiEvent((event) => setRun((view) => applyEvent(view, workflowId, event))), [workflowId]);

  const startRun = useCallback(
    async (untilNode?: string, fromNode?: string) => {
      setViewing(null);
      try {
        // Run from here: the nodes before it stand in with what they emitted in the run shown last.
        const fromExecution = fromNode ? (lastRun.current ?? undefined) : undefined;
        // Always given (even none), so breakpoints set while the run goes still apply.
        const workflow = store.get().workflow;
        const marked = breakpoints().filter((id) => workflow.nodes.some((n) => n.id === id));
        const r = await call("run_start", { workflow, untilNode, fromNode, fromExecution, breakpoints: marked });
        setRun((view) => (view.executionId === r.executionId ? view : { ...emptyRun(), executionId: r.executionId, workflowId: store.get().workflow.id, running: true }));
        onShow();
      } catch (e) {
        if (e instanceof ApiFailure && e.code === "workflow_untrusted") {
          toast(errorMessage(e), "error");
          void openReview();
        } else if (e instanceof ApiFailure && e.code === "invalid_workflow") {
          const found = ((e.details as { issues?: ValidationIssue[] })?.issues ?? []) as ValidationIssue[];
          setIssues(found);
          toast(`Fix ${found.length} problem${found.length === 1 ? "" : "s"} first: ${found[0]?.message ?? e.message}`, "error");
        } else {
          toast(errorMessage(e), "error");
        }
      }
    },
    [store, openReview, setIssues, onShow, breakpoints],
  );
  /** Continue, step or stop a run paused at a breakpoint. */
  const debugRun = useCallback(
    async (action: DebugAction) => {
      if (run.executionId) await call("run_debug", { executionId: run.executionId, action }).catch((e) => toast(errorMessage(e), "error"));
    },
    [run.executionId],
  );
  const stopRun = useCallback(async () => {
    if (run.executionId) await call("run_cancel", { executionId: run.executionId }).catch((e) => toast(errorMessage(e), "error"));
  }, [run.executionId]);

  const openExecution = useCallback(
    async (id: string, server?: string) => {
      try {
        const execution = server ? await call("server_execution_get", { id, server }) : await call("execution_get", { id });
        setViewing(execution);
        setViewingServer(server ?? null);
        setRun(fromExecution(execution));
        onShow();
      } catch (e) {
        toast(errorMessage(e), "error");
      }
    },
    [onShow],
  );
  const backToEditing = useCallback(() => {
    setViewing(null);
    setViewingServer(null);
  }, []);
  /** Runs a past execution again, from the start or from its failed node, and follows the
   * new run live on the editor's canvas. */
  const retryExecution = useCallback(
    async (executionId: string, fromFailed: boolean) => {
      try {
        const r = await call("execution_retry", { executionId, fromFailed });
        setViewing(null);
        setRun((view) => (view.executionId === r.executionId ? view : { ...emptyRun(), executionId: r.executionId, workflowId: store.get().workflow.id, running: true }));
        onShow();
        toast(fromFailed ? "Retrying from the failed node" : "Retrying from the start");
      } catch (e) {
        toast(errorMessage(e), "error");
      }
    },
    [store, onShow],
  );

  useAllowHostPrompt(run);
  return { run, viewing, viewingServer, startRun, stopRun, debugRun, openExecution, backToEditing, retryExecution };
}

/** A run that failed because an account may not go to a host: offer to allow it (the
 * account's first use of a host is the user's to confirm). */
function useAllowHostPrompt(run: RunView) {
  const askedHost = useRef<string | null>(null);
  useEffect(() => {
    const e = run.error;
    if (run.running || run.fromHistory || !run.executionId || e?.code !== "credential_host_not_allowed" || askedHost.current === run.executionId) return;
    askedHost.current = run.executionId;
    const d = (e.details ?? {}) as { connection?: string; account?: string; host?: string };
    if (!d.connection || !d.account || !d.host) return;
    const { connection, account, host } = d;
    void (async () => {
      const choice = await choose(
        "Allow this host?",
        `Account “${account}” (${connection}) may not be sent to ${host}, so node “${e.nodeName ?? ""}” stopped before sending anything. Allow ${host} for this account? Only do so if that host should get its credentials.`,
        [
          { label: "Not now", value: "no" },
          { label: `Allow ${host}`, value: "allow", kind: "primary" },
        ],
      );
      if (choice !== "allow") return;
      try {
        const accounts = (await call("account_list", {})).accounts;
        const found = accounts.find((a) => a.connectionType === connection && a.label === account);
        if (!found) return toast(`No account “${account}” of ${connection} here`, "error");
        await call("account_hosts", { id: found.id, hosts: [...found.allowedHosts, host] });
        toast(`${host} allowed for “${account}”; run again`, "success");
      } catch (err) {
        toast(errorMessage(err), "error");
      }
    })();
  }, [run]);
}
