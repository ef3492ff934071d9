// The app: the workflows list or the editor, plus global dialogs, toasts and file drops.
import { useCallback, useEffect, useRef, useState } from "react";
import { call, errorMessage, inDesktopShell } from "./api/client";
import { onApiEvent } from "./api/events";
import { onFileDrop } from "./api/platform";
import { DialogHost } from "./components/dialogs";
import { RecoveryKitHost } from "./components/RecoveryKit";
import { Toasts, toast } from "./components/toasts";
import type { NodeDescriptor } from "./gen/NodeDescriptor";
import { markAfterPaint } from "./marks";
import { Alerts } from "./pages/Alerts";
import { Connections } from "./pages/Connections";
import { Dashboard } from "./pages/Dashboard";
import { Editor } from "./pages/Editor";
import { Help } from "./pages/Help";
import { Orchestrations } from "./pages/Orchestrations";
import { SettingsPage } from "./pages/Settings";
import { Webhooks } from "./pages/Webhooks";
import { WorkflowList } from "./pages/WorkflowList";

type Page = "list" | "dashboard" | "orchestrations" | "alerts" | "webhooks" | "connections" | "settings" | "help";
/** The editor can open with a past run shown, or with its history of failed runs. */
type Route = { page: Page } | { page: "editor"; id: string; execution?: string; failedRuns?: boolean };

function TopNav({ page, onGo }: { page: Page; onGo: (page: Page) => void }) {
  return (
    <nav className="top-nav" aria-label="Pages">
      <button className={page === "list" ? "active" : ""} onClick={() => onGo("list")} data-testid="nav-workflows">
        Workflows
      </button>
      <button className={page === "dashboard" ? "active" : ""} onClick={() => onGo("dashboard")} data-testid="nav-dashboard">
        Dashboard
      </button>
      <button className={page === "orchestrations" ? "active" : ""} onClick={() => onGo("orchestrations")} data-testid="nav-orchestrations">
        Orchestrations
      </button>
      <button className={page === "alerts" ? "active" : ""} onClick={() => onGo("alerts")} data-testid="nav-alerts">
        Alerts
      </button>
      <button className={page === "webhooks" ? "active" : ""} onClick={() => onGo("webhooks")} data-testid="nav-webhooks">
        Webhooks
      </button>
      <button className={page === "connections" ? "active" : ""} onClick={() => onGo("connections")} data-testid="nav-connections">
        Connections
      </button>
      <button className={page === "settings" ? "active" : ""} onClick={() => onGo("settings")} data-testid="nav-settings">
        Settings
      </button>
      <button className={page === "help" ? "active" : ""} onClick={() => onGo("help")} data-testid="nav-help">
        Help
      </button>
    </nav>
  );
}

export function App() {
  const [route, setRoute] = useState<Route>({ page: "list" });
  const [descriptors, setDescriptors] = useState<NodeDescriptor[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const leaveGuard = useRef<(() => Promise<boolean>) | null>(null);
  const registerLeaveGuard = useCallback((guard: (() => Promise<boolean>) | null) => {
    leaveGuard.current = guard;
  }, []);

  useEffect(() => {
    markAfterPaint((m, now) => {
      m.firstPaint ??= now;
    });
  }, []);

  useEffect(() => {
    if (!inDesktopShell()) return;
    call("node_types", {})
      .then((r) => setDescriptors(r.nodeTypes))
      .catch((e) => setError(errorMessage(e)));
  }, []);

  // Alerts while the app is open: fired, escalated and resolved ones as toasts (the OS
  // notification is the rule's action; this is for whoever is looking at the window).
  useEffect(
    () =>
      onApiEvent((e) => {
        // The history cannot be written (a full disk), or is written again.
        if (e.kind === "notice") {
          toast(e.message, e.level === "error" ? "error" : e.level === "success" ? "success" : "info");
          return;
        }
        if (e.kind === "updateAvailable") {
          toast(`Switchyard ${e.offer.version} is available: Settings → Updates installs it`, "info");
          return;
        }
        if (e.kind !== "alert") return;
        const a = e.alert;
        if (a.state === "resolved") toast(`Resolved: ${a.ruleName}`, "success");
        else if (!a.ackedAt) toast(`${a.escalatedAt ? `Escalated to ${a.severity}` : a.severity}: ${a.message}`, "error");
      }),
    [],
  );

  // Dropping workflow files onto the window, or opening them with the app (a double-click
  // on a .switchyard.json file, "Open with"), imports them and opens the last one.
  useEffect(() => {
    const importFiles = async (paths: string[], dropped: boolean) => {
      const files = paths.filter((p) => p.toLowerCase().endsWith(".json"));
      if (files.length === 0) {
        toast(dropped ? "Drop Switchyard workflow files (.json) to import them" : `Not a workflow file: ${paths.join(", ")}`, "error");
        return;
      }
      if (leaveGuard.current && !(await leaveGuard.current())) return;
      let last: string | null = null;
      for (const path of files) {
        try {
          const r = await call("workflow_import_file", { path });
          for (const note of r.notes) toast(note);
          toast(`Imported “${r.record.workflow.name}”`, "success");
          last = r.record.workflow.id;
        } catch (e) {
          toast(errorMessage(e), "error");
        }
      }
      if (last) setRoute({ page: "editor", id: last });
    };
    let unlisten: (() => void) | null = null;
    void onFileDrop((paths) => void importFiles(paths, true)).then((u) => (unlisten = u));
    const takeOpened = () => {
      call("open_requests", {})
        .then((r) => (r.paths.length > 0 ? importFiles(r.paths, false) : undefined))
        .catch(() => {});
    };
    if (inDesktopShell()) takeOpened();
    const stop = onApiEvent((e) => {
      if (e.kind === "openFiles") takeOpened();
    });
    return () => {
      unlisten?.();
      stop();
    };
  }, []);

  if (!inDesktopShell()) {
    return (
      <div className="notice">
        <h2>Switchyard</h2>
        <p>This page is the editor of the Switchyard desktop app. Start the app with <code>cargo xtask app</code>.</p>
      </div>
    );
  }
  if (error) return <div className="notice error-text">Cannot start: {error}</div>;
  if (!descriptors) return <div className="notice muted">Starting…</div>;
  return (
    <div className="app">
      {route.page === "editor" ? (
        <Editor
          key={route.id}
          workflowId={route.id}
          initialExecution={route.execution}
          initialFailedRuns={route.failedRuns}
          descriptors={descriptors}
          onBack={() => setRoute({ page: "list" })}
          onConnections={() => setRoute({ page: "connections" })}
          onOpenOther={(id) => setRoute({ page: "editor", id })}
          registerLeaveGuard={registerLeaveGuard}
        />
      ) : (
        <div className="page">
          <TopNav page={route.page} onGo={(page) => setRoute({ page })} />
          <main className="page-main">
          {route.page === "list" && <WorkflowList onOpen={(id) => setRoute({ page: "editor", id })} onHelp={() => setRoute({ page: "help" })} />}
          {route.page === "dashboard" && (
            <Dashboard
              onOpen={(id) => setRoute({ page: "editor", id })}
              onOpenRun={(id, execution) => setRoute({ page: "editor", id, execution: execution ?? undefined, failedRuns: true })}
              onAlerts={() => setRoute({ page: "alerts" })}
            />
          )}
          {route.page === "orchestrations" && (
            <Orchestrations onOpen={(id) => setRoute({ page: "editor", id })} onOpenRun={(id, execution) => setRoute({ page: "editor", id, execution })} />
          )}
          {route.page === "alerts" && <Alerts />}
          {route.page === "webhooks" && <Webhooks onOpen={(id) => setRoute({ page: "editor", id })} />}
          {route.page === "connections" && <Connections />}
          {route.page === "settings" && <SettingsPage />}
          {route.page === "help" && <Help />}
          </main>
        </div>
      )}
      <DialogHost />
      <RecoveryKitHost />
      <Toasts />
    </div>
  );
}
