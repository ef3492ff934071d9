// Editor toolbar controls for triggers: the workflow's active switch, and "Listen for test
// event" (120 s) for workflows with a Webhook trigger: the request shows on the canvas as
// the trigger's output and the run proceeds like a manual run.
import { useCallback, useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import { onApiEvent } from "../api/events";
import { toast } from "../components/toasts";
import type { Workflow } from "../gen/Workflow";
import { setActive } from "../api/workflows";
import { copyToClipboard } from "../lib/clipboard";

export function ActiveSwitch({ workflowId, name, dirty }: { workflowId: string; name: string; dirty: boolean }) {
  const [active, setActiveState] = useState<boolean | null>(null);
  const load = useCallback(() => {
    call("workflow_get", { id: workflowId })
      .then((r) => setActiveState(r.active))
      .catch(() => setActiveState(null));
  }, [workflowId]);
  useEffect(() => {
    load();
    return onApiEvent((e) => {
      if (e.kind === "triggers") load();
    });
  }, [load]);
  if (active === null) return null;
  return (
    <label className="switch" title={dirty ? "The saved version is what runs: save first" : "An active workflow's Webhook and Schedule triggers are served"}>
      <input
        type="checkbox"
        checked={active}
        onChange={async () => {
          if (dirty && !active) toast("Activating the saved version; your unsaved changes are not served until you save.");
          if (await setActive(workflowId, name, !active)) load();
        }}
        data-testid="editor-active"
      />
      Active
    </label>
  );
}

export function TestListener({ workflow }: { workflow: Workflow }) {
  const [listening, setListening] = useState<{ urls: string[]; until: number } | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const hasWebhook = workflow.nodes.some((n) => n.type === "trigger.webhook");

  useEffect(() => {
    if (!listening) return;
    const timer = setInterval(() => {
      setNow(Date.now());
      if (Date.now() >= listening.until) setListening(null);
    }, 500);
    const off = onApiEvent((e) => {
      if (e.kind === "testDelivery" && e.workflowId === workflow.id) {
        setListening(null);
        toast("Test event received: running it", "success");
      }
    });
    return () => {
      clearInterval(timer);
      off();
    };
  }, [listening, workflow.id]);

  if (!hasWebhook) return null;
  if (!listening) {
    return (
      <button
        onClick={async () => {
          try {
            const r = await call("webhook_listen_test", { workflow });
            setListening({ urls: r.urls, until: Date.now() + r.seconds * 1000 });
            setNow(Date.now());
          } catch (e) {
            toast(errorMessage(e), "error");
          }
        }}
        title="Waits 120 s for one request to the test URL, then runs the workflow with it"
        data-testid="listen-test"
      >
        Listen for test event
      </button>
    );
  }
  const left = Math.max(0, Math.ceil((listening.until - now) / 1000));
  return (
    <span className="listening" data-testid="listening">
      Listening ({left} s) at{" "}
      <button
        className="link mono"
        title="Copy the test URL"
        onClick={() => copyToClipboard(listening.urls[0]).then(() => toast("Test URL copied", "success"), (e) => toast(errorMessage(e), "error"))}
        data-testid="test-url"
      >
        {listening.urls[0]}
      </button>
      <button
        onClick={() => {
          void call("webhook_stop_test", { id: workflow.id }).catch(() => {});
          setListening(null);
        }}
      >
        Stop
      </button>
    </span>
  );
}
