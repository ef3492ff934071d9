// Settings → Backups: the daily backup's settings (edited with the rest of the page's draft),
// the backups in the folder, the last failure, and "Back up now". Restoring happens with the
// app closed (`switchyard restore FILE`), since the database it replaces is open here.
import { useCallback, useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import type { AppSettings } from "../gen/AppSettings";
import type { BackupListResponse } from "../gen/BackupListResponse";
import { formatSize } from "../lib/size";
import { relativeTime } from "../lib/time";
import { DataTable } from "./DataTable";
import { NumberField } from "./NumberField";
import { toast } from "./toasts";


export function BackupSettings({ draft, set }: { draft: AppSettings; set: (change: Partial<AppSettings>) => void }) {
  const [list, setList] = useState<BackupListResponse | null>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(() => {
    call("backup_list", {})
      .then(setList)
      .catch((e) => toast(errorMessage(e), "error"));
  }, []);
  useEffect(load, [load]);
  const now = async () => {
    setBusy(true);
    try {
      const b = await call("backup_create", {});
      toast(`Backup written: ${formatSize(b.size)}`, "success");
      load();
    } catch (e) {
      toast(errorMessage(e), "error");
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="settings-section" data-testid="backup-settings">
      <h2>Backups</h2>
      <label className="switch">
        <input type="checkbox" checked={draft.backupDaily} onChange={(e) => set({ backupDaily: e.target.checked })} data-testid="set-backup-daily" />
        Back up the database and files once a day while Switchyard runs
      </label>
      <div className="field-grid">
        <div className="field">
          <label htmlFor="set-backup-folder">Backup folder</label>
          <input id="set-backup-folder" value={draft.backupFolder} placeholder={list?.folder ?? "backups in the data folder"} onChange={(e) => set({ backupFolder: e.target.value })} />
          <div className="hint">An absolute folder, best on another disk; empty: the data folder's backups.</div>
        </div>
        <NumberField whole id="set-backup-days" label="Keep daily backups (days)" value={draft.backupKeepDays} min={0} hint="0 keeps them all." onChange={(n) => set({ backupKeepDays: n })} />
      </div>
      {list?.lastFailure && (
        <div className="error-text" data-testid="backup-failure">
          The last backup failed {relativeTime(list.lastFailure.at)}: {list.lastFailure.message}
        </div>
      )}
      <p className="muted">
        Credentials stay encrypted in a backup: on another computer they open with the vault's recovery key (Connections). Restore with Switchyard closed:{" "}
        <code>switchyard restore FILE</code>.
      </p>
      <div className="list-toolbar">
        <button onClick={() => void now()} disabled={busy} data-testid="backup-now">
          {busy ? "Backing up…" : "Back up now"}
        </button>
      </div>
      {list && (
        <DataTable
          rows={list.backups}
          rowKey={(b) => b.path}
          testId="backup-list"
          rowTestId="backup-row"
          empty={`No backups in ${list.folder} yet.`}
          columns={[
            { header: "Made", cell: (b) => (b.createdAt ? relativeTime(b.createdAt) : "?"), title: (b) => b.createdAt },
            { header: "Size", cell: (b) => formatSize(b.size) },
            { header: "Files", cell: (b) => b.files },
            { header: "Path", cell: (b) => b.path, className: "mono" },
          ]}
        />
      )}
    </section>
  );
}
