// The Settings page: what the execution history keeps, circuit breakers and rate limits
// (with the presets and the live state of every breaker and limit in use), the webhook
// listener and starting at login.
import { useCallback, useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import { ApiTokens } from "../components/ApiTokens";
import { BackupSettings } from "../components/Backups";
import { UpdateSettings } from "../components/Updates";
import { DataTable } from "../components/DataTable";
import { NumberField } from "../components/NumberField";
import { toast } from "../components/toasts";
import type { AppSettings } from "../gen/AppSettings";
import type { HostRate } from "../gen/HostRate";
import type { ModelPrice } from "../gen/ModelPrice";
import type { ResilienceState } from "../gen/ResilienceState";
import { type ThemeChoice, setTheme, storedTheme } from "../lib/theme";

function rate(r: { perSecond: number; burst: number }): string {
  const perMinute = r.perSecond * 60;
  const text = r.perSecond >= 1 ? `${+r.perSecond.toFixed(2)}/s` : `${+perMinute.toFixed(1)}/min`;
  return `${text}, bursts of ${r.burst}`;
}

export function SettingsPage() {
  const [saved, setSaved] = useState<AppSettings | null>(null);
  const [draft, setDraft] = useState<AppSettings | null>(null);
  const [state, setState] = useState<ResilienceState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [theme, setThemeChoice] = useState<ThemeChoice>(storedTheme);
  const refreshState = useCallback(() => {
    call("resilience_state", {})
      .then(setState)
      .catch((e) => setError(errorMessage(e)));
  }, []);
  useEffect(() => {
    call("settings_get", {})
      .then((s) => {
        setSaved(s);
        setDraft(s);
      })
      .catch((e) => setError(errorMessage(e)));
    refreshState();
    const timer = setInterval(refreshState, 2000);
    return () => clearInterval(timer);
  }, [refreshState]);
  if (error) return <div className="list-page error-text">{error}</div>;
  if (!draft || !saved) return <div className="list-page muted">Loading…</div>;
  const dirty = JSON.stringify(draft) !== JSON.stringify(saved);
  const set = (change: Partial<AppSettings>) => setDraft({ ...draft, ...change });
  const setRate = (i: number, change: Partial<HostRate>) => set({ rateLimits: draft.rateLimits.map((r, n) => (n === i ? { ...r, ...change } : r)) });
  const setPrice = (i: number, change: Partial<ModelPrice>) => set({ modelPrices: draft.modelPrices.map((p, n) => (n === i ? { ...p, ...change } : p)) });
  const save = async () => {
    try {
      const webhookAllowedHosts = draft.webhookAllowedHosts.map((h) => h.trim()).filter((h) => h !== "");
      const localRoots = draft.localRoots.map((r) => r.trim()).filter((r) => r !== "");
      const s = await call("settings_update", { ...draft, webhookAllowedHosts, localRoots });
      setSaved(s);
      setDraft(s);
      toast("Settings saved", "success");
      refreshState();
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  };
  return (
    <div className="list-page" data-testid="settings-page">
      <h1>Settings</h1>
      <section className="settings-section" data-testid="appearance">
        <h2>Appearance</h2>
        <div className="field">
          <label htmlFor="theme">Theme</label>
          <select
            id="theme"
            value={theme}
            onChange={(e) => {
              const choice = e.target.value as ThemeChoice;
              setThemeChoice(choice);
              setTheme(choice);
            }}
          >
            <option value="system">As the system</option>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
          </select>
          <div className="hint">Kept on this computer; applies at once.</div>
        </div>
      </section>
      <section className="settings-section">
        <h2>Execution history</h2>
        <div className="field-grid">
          <NumberField whole id="set-items" label="Items kept per node output" value={draft.runDataMaxItems} min={1} hint="More are counted but not stored." onChange={(n) => set({ runDataMaxItems: n })} />
          <NumberField whole id="set-bytes" label="Bytes kept per node" value={draft.runDataMaxBytes} min={1024} hint="JSON size of a node's stored items." onChange={(n) => set({ runDataMaxBytes: n })} />
          <NumberField whole id="set-age" label="Delete runs older than (days)" value={draft.pruneMaxAgeDays} min={0} hint="0 keeps them forever." onChange={(n) => set({ pruneMaxAgeDays: n })} />
          <NumberField whole id="set-keep" label="Keep at most (runs)" value={draft.pruneKeepLast} min={0} hint="0 means no limit." onChange={(n) => set({ pruneKeepLast: n })} />
        </div>
      </section>
      <section className="settings-section">
        <h2>Circuit breakers</h2>
        <div className="field-grid">
          <NumberField whole id="set-threshold" label="Failures in a row that open a breaker" value={draft.breakerThreshold} min={1} hint="5xx answers, timeouts and network errors count." onChange={(n) => set({ breakerThreshold: n })} />
          <NumberField whole id="set-reset" label="Seconds before a trial call" value={draft.breakerResetSeconds} min={1} hint="While open, calls fail at once." onChange={(n) => set({ breakerResetSeconds: n })} />
        </div>
      </section>
      <section className="settings-section">
        <h2>Rate limits</h2>
        <p className="muted">
          Calls wait their turn instead of failing. Your limits replace the presets; a host of <code>connection:github</code> limits every call made with a GitHub account. 0 per second turns a
          preset off. After a 429 the rate halves, then recovers.
        </p>
        {draft.rateLimits.map((r, i) => (
          <div className="row rate-row" key={i} data-testid="rate-row">
            <input aria-label="Host" placeholder="api.example.com" value={r.host} onChange={(e) => setRate(i, { host: e.target.value })} />
            <input aria-label="Calls per second" inputMode="decimal" value={String(r.perSecond)} onChange={(e) => setRate(i, { perSecond: Number(e.target.value) || 0 })} />
            <input aria-label="Burst" inputMode="numeric" value={String(r.burst)} onChange={(e) => setRate(i, { burst: Math.max(1, Math.round(Number(e.target.value) || 1)) })} />
            <button className="danger" onClick={() => set({ rateLimits: draft.rateLimits.filter((_, n) => n !== i) })}>
              Remove
            </button>
          </div>
        ))}
        <button onClick={() => set({ rateLimits: [...draft.rateLimits, { host: "", perSecond: 1, burst: 1 }] })}>+ Add a limit</button>
        {state && (
          <details className="presets">
            <summary>Presets ({state.presets.length})</summary>
            <DataTable
              rows={state.presets}
              rowKey={(p) => p.host}
              columns={[
                { className: "mono", cell: (p) => p.host },
                { cell: (p) => rate(p) },
              ]}
            />
          </details>
        )}
      </section>
      <section className="settings-section" data-testid="webhook-settings">
        <h2>Webhooks and running in the background</h2>
        <div className="field-grid">
          <NumberField whole id="set-port" label="Webhook listener port" value={draft.webhookPort} min={0} max={65535} hint="Webhook URLs start with http://127.0.0.1:PORT." onChange={(n) => set({ webhookPort: n })} />
          <div className="field">
            <label htmlFor="set-bind">Listen on address</label>
            <input id="set-bind" value={draft.webhookBind} onChange={(e) => set({ webhookBind: e.target.value })} data-testid="set-bind" />
            {!["127.0.0.1", "::1", "localhost"].includes(draft.webhookBind.trim()) ? (
              <div className="warning-text" data-testid="bind-warning">
                Other machines on your network can reach {draft.webhookBind.trim() || "this address"}: anyone who can reach it can call your webhooks. Use signature checks.
              </div>
            ) : (
              <div className="muted">127.0.0.1: only this computer can call the webhooks.</div>
            )}
          </div>
          <div className="field">
            <label htmlFor="set-hosts">Allowed host names</label>
            <input
              id="set-hosts"
              value={draft.webhookAllowedHosts.join(",")}
              placeholder="hooks.example.com, other.example.net"
              onChange={(e) => set({ webhookAllowedHosts: e.target.value === "" ? [] : e.target.value.split(",") })}
              data-testid="set-hosts"
            />
            <div className="muted">Requests naming another host than this computer get 421 (this stops web pages from reaching your webhooks). Add a tunnel's or proxy's name here.</div>
          </div>
          <NumberField whole id="set-body" label="Largest webhook body (bytes)" value={draft.webhookMaxBodyBytes} min={1024} hint="Larger requests get 413 and run nothing." onChange={(n) => set({ webhookMaxBodyBytes: n })} />
          <NumberField whole id="set-body-timeout" label="Seconds a request body may take" value={draft.webhookBodyTimeoutSeconds} min={1} hint="Slower bodies get 408 (headers must arrive within 10 s)." onChange={(n) => set({ webhookBodyTimeoutSeconds: n })} />
          <NumberField whole id="set-connections" label="Webhook connections at once" value={draft.webhookMaxConnections} min={1} hint="More wait until one closes." onChange={(n) => set({ webhookMaxConnections: n })} />
          <NumberField whole id="set-deliveries" label="Deliveries kept per workflow" value={draft.deliveryLogKeep} min={1} hint="The delivery log's length." onChange={(n) => set({ deliveryLogKeep: n })} />
        </div>
        <label className="switch">
          <input type="checkbox" checked={draft.startAtLogin} onChange={(e) => set({ startAtLogin: e.target.checked })} data-testid="set-login" />
          Start Switchyard in the tray when I log in
        </label>
        <p className="muted">While a workflow is active, closing the window keeps Switchyard in the tray (Open, Pause all workflows, Quit).</p>
        <label className="switch">
          <input type="checkbox" checked={draft.metricsEndpoint} onChange={(e) => set({ metricsEndpoint: e.target.checked })} data-testid="set-metrics" />
          Serve Prometheus metrics at <span className="mono">/metrics</span> on the webhook listener
        </label>
        {draft.metricsEndpoint && (
          <div className="muted" data-testid="metrics-token">
            {draft.metricsToken
              ? <>Scrapers send <span className="mono">Authorization: Bearer {draft.metricsToken}</span> (others get 401).</>
              : "A bearer token is made when you save; scrapers must send it."}
          </div>
        )}
      </section>
      <section className="settings-section">
        <h2>Local access</h2>
        <label className="switch">
          <input type="checkbox" checked={draft.allowCommands} onChange={(e) => set({ allowCommands: e.target.checked })} data-testid="set-commands" />
          Let workflows run programs on this computer (Execute Command)
        </label>
        <p className="muted">Off, every Execute Command node fails. Workflows imported from files run programs only after you approve them in their review.</p>
        <div className="field">
          <label htmlFor="set-roots">Folders file nodes may use</label>
          <textarea
            id="set-roots"
            rows={3}
            value={draft.localRoots.join("\n")}
            placeholder="Your home folder"
            onChange={(e) => set({ localRoots: e.target.value === "" ? [] : e.target.value.split("\n") })}
            data-testid="set-roots"
          />
          <div className="muted">One per line, with their subfolders (~/ is your home folder). Empty: your home folder. A file reached through a link counts where it really is.</div>
        </div>
      </section>
      <section className="settings-section" data-testid="model-prices">
        <h2>AI model prices</h2>
        <p className="muted">
          The dashboard and <code>/metrics</code> estimate what AI nodes cost from these prices, in US dollars per million tokens. A name ending in <code>*</code> covers every model that
          starts with it. Local models cost nothing: add them at 0 to show so.
        </p>
        {draft.modelPrices.map((p, i) => (
          <div className="row rate-row" key={i} data-testid="price-row">
            <input aria-label="Model" placeholder="gpt-4o-mini*" value={p.model} onChange={(e) => setPrice(i, { model: e.target.value })} />
            <input aria-label="Dollars per million tokens in" inputMode="decimal" value={String(p.inputPerMillion)} onChange={(e) => setPrice(i, { inputPerMillion: Number(e.target.value) || 0 })} />
            <input aria-label="Dollars per million tokens out" inputMode="decimal" value={String(p.outputPerMillion)} onChange={(e) => setPrice(i, { outputPerMillion: Number(e.target.value) || 0 })} />
            <button className="danger" onClick={() => set({ modelPrices: draft.modelPrices.filter((_, n) => n !== i) })}>
              Remove
            </button>
          </div>
        ))}
        <button onClick={() => set({ modelPrices: [...draft.modelPrices, { model: "", inputPerMillion: 0, outputPerMillion: 0 }] })} data-testid="add-price">
          + Add a price
        </button>
      </section>
      <section className="settings-section" data-testid="run-settings">
        <h2>Runs and metrics</h2>
        <div className="field-grid">
          <NumberField whole id="set-concurrency" label="Runs at once" value={draft.maxConcurrentRuns} min={0} hint="More wait in the queue (0: no limit)." onChange={(n) => set({ maxConcurrentRuns: n })} />
          <NumberField whole id="set-waiting" label="Runs that may wait" value={draft.maxWaitingRuns} min={0} hint="Beyond it webhooks get 503 with Retry-After and schedule fires are skipped (0: no cap)." onChange={(n) => set({ maxWaitingRuns: n })} />
          <NumberField whole id="set-item-mb" label="Largest item (MiB)" value={draft.maxItemMb} min={1} hint="A node that makes a larger item fails, naming it." onChange={(n) => set({ maxItemMb: n })} />
          <NumberField whole id="set-run-mb" label="Items a run may hold (MiB)" value={draft.maxRunItemsMb} min={1} hint="Outputs waiting for the next nodes plus the result; past it the run fails at the node that made too much." onChange={(n) => set({ maxRunItemsMb: n })} />
          <NumberField whole id="set-run-files-mb" label="Files a run may store (MiB)" value={draft.maxRunFilesMb} min={1} hint="Binary properties (downloads, files read) go to the blob store on disk, not memory; past it the node storing one fails." onChange={(n) => set({ maxRunFilesMb: n })} />
          <NumberField whole id="set-call-depth" label="Call depth" value={draft.maxCallDepth} min={1} max={64} hint="How deep workflows may call workflows (Execute Workflow); a deeper call fails." onChange={(n) => set({ maxCallDepth: n })} />
          <NumberField whole id="set-version-days" label="Keep every version (days)" value={draft.versionKeepDays} min={0} hint="Saved versions of a workflow younger than this are all kept (0: all, forever)." onChange={(n) => set({ versionKeepDays: n })} />
          <NumberField whole id="set-version-every" label="Then keep every n-th version" value={draft.versionKeepEvery} min={0} hint="Of older versions, every n-th by number stays (0: none); the newest always does." onChange={(n) => set({ versionKeepEvery: n })} />
          <NumberField whole id="set-metrics-days" label="Days of metrics kept" value={draft.metricsRetentionDays} min={1} hint="Per minute for a day, per hour after." onChange={(n) => set({ metricsRetentionDays: n })} />
        </div>
      </section>
      <BackupSettings draft={draft} set={set} />
      <UpdateSettings draft={draft} savedUrl={saved.updateUrl} set={set} />
      <div className="list-toolbar">
        <button className="primary" disabled={!dirty} onClick={() => void save()} data-testid="settings-save">
          Save
        </button>
        <button disabled={!dirty} onClick={() => setDraft(saved)}>
          Discard changes
        </button>
      </div>
      <ApiTokens />
      <section className="settings-section" data-testid="resilience-state">
        <h2>Now</h2>
        {state && state.breakers.length === 0 && state.limits.length === 0 && <div className="muted">No breaker or limit has been used since the app started.</div>}
        {state && (
          <DataTable
            rows={state.breakers}
            rowKey={(b) => b.key}
            rowTestId="breaker-row"
            columns={[
              { header: "Breaker", className: "mono", cell: (b) => b.key },
              {
                header: "State",
                className: (b) => (b.state === "closed" ? "ok-text" : "error-text"),
                cell: (b) => (
                  <>
                    {b.state === "halfOpen" ? "half-open (trial call)" : b.state}
                    {b.retryInMs !== undefined && b.state === "open" && ` · trial in ${Math.ceil(b.retryInMs / 1000)} s`}
                  </>
                ),
              },
              { header: "Failures in a row", cell: (b) => b.failures },
              { header: "Changes", cell: (b) => b.transitions },
            ]}
          />
        )}
        {state && (
          <DataTable
            rows={state.limits}
            rowKey={(l) => l.host}
            columns={[
              { header: "Rate limit", className: "mono", cell: (l) => l.host },
              { header: "Configured", cell: (l) => rate(l.configured) },
              { header: "Now", cell: (l) => rate({ perSecond: l.currentPerSecond, burst: l.configured.burst }) },
              { header: "Calls that waited", cell: (l) => `${l.waits} (${(l.waitedMs / 1000).toFixed(1)} s in all)` },
            ]}
          />
        )}
      </section>
    </div>
  );
}
