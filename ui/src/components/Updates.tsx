// Settings → Updates: the update URL (edited with the rest of the page's draft; empty: the
// app never checks), "Check for updates", the offered version's release notes, and an
// install that happens only after the user confirms. The release notes come from the
// network: they are shown as text, never as HTML.
import { useState } from "react";
import { call, errorMessage } from "../api/client";
import type { AppSettings } from "../gen/AppSettings";
import type { UpdateCheckResponse } from "../gen/UpdateCheckResponse";
import type { UpdateInstallResponse } from "../gen/UpdateInstallResponse";
import { relativeTime } from "../lib/time";
import { confirm } from "./dialogs";
import { toast } from "./toasts";

export function UpdateSettings({ draft, savedUrl, set }: { draft: AppSettings; savedUrl: string; set: (change: Partial<AppSettings>) => void }) {
  const [checked, setChecked] = useState<UpdateCheckResponse | null>(null);
  const [installed, setInstalled] = useState<UpdateInstallResponse | null>(null);
  const [busy, setBusy] = useState<"check" | "install" | null>(null);
  const check = async () => {
    setBusy("check");
    try {
      setChecked(await call("update_check", {}));
    } catch (e) {
      toast(errorMessage(e), "error");
    } finally {
      setBusy(null);
    }
  };
  const install = async (version: string) => {
    const ok = await confirm(
      `Install Switchyard ${version}?`,
      "It is downloaded, its signature is checked against the release key built into this app, and it replaces this copy. Nothing changes if the check fails. Workflows keep running until you restart.",
      `Install ${version}`,
    );
    if (!ok) return;
    setBusy("install");
    try {
      setInstalled(await call("update_install", { version }));
    } catch (e) {
      toast(errorMessage(e), "error");
    } finally {
      setBusy(null);
    }
  };
  const offer = checked?.update;
  return (
    <section className="settings-section" data-testid="update-settings">
      <h2>Updates</h2>
      <div className="field">
        <label htmlFor="set-update-url">Update URL</label>
        <input id="set-update-url" value={draft.updateUrl} placeholder="off" onChange={(e) => set({ updateUrl: e.target.value })} data-testid="set-update-url" />
        <div className="hint">
          The https address of a release manifest (latest.json). Empty: Switchyard never checks. Set, it checks a minute after it starts and once a day, and installs only what you confirm, signed with its release key.
        </div>
      </div>
      <div className="list-toolbar">
        <button onClick={() => void check()} disabled={busy !== null || savedUrl === ""} title={savedUrl === "" ? "Save an update URL first" : savedUrl} data-testid="update-check">
          {busy === "check" ? "Checking…" : "Check for updates"}
        </button>
      </div>
      {checked && !offer && (
        <p className="muted" data-testid="update-none">
          Switchyard {checked.currentVersion} is the newest version (checked {relativeTime(checked.checkedAt)}).
        </p>
      )}
      {offer && (
        <div className="update-offer" data-testid="update-offer">
          <p>
            <strong>Switchyard {offer.version}</strong> is available (you have {offer.currentVersion})
            {offer.date ? `, published ${relativeTime(offer.date)}` : ""}.
          </p>
          {offer.notes && (
            <pre className="release-notes" data-testid="update-notes">
              {offer.notes}
            </pre>
          )}
          {installed?.version === offer.version ? (
            <div className="list-toolbar">
              <span data-testid="update-installed">{installed.message}</span>
              {installed.restartNeeded && (
                <button className="primary" onClick={() => void call("app_restart", {}).catch((e) => toast(errorMessage(e), "error"))} data-testid="update-restart">
                  Restart now
                </button>
              )}
            </div>
          ) : (
            <div className="list-toolbar">
              <button className="primary" onClick={() => void install(offer.version)} disabled={busy !== null} data-testid="update-install">
                {busy === "install" ? "Downloading and checking…" : `Install ${offer.version}…`}
              </button>
            </div>
          )}
        </div>
      )}
    </section>
  );
}
