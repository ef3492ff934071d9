// A node's retry policy and (for nodes that call out per item) its item concurrency.
import { NumberField } from "../components/NumberField";
import type { Backoff } from "../gen/Backoff";
import type { ErrorClass } from "../gen/ErrorClass";
import type { Jitter } from "../gen/Jitter";
import type { NodeSettings } from "../gen/NodeSettings";
import type { RetryPolicy } from "../gen/RetryPolicy";

export const DEFAULT_RETRY: RetryPolicy = {
  maxTries: 1,
  backoff: "exponential",
  initialDelayMs: 1000,
  factor: 2,
  maxDelayMs: 30000,
  jitter: "quarter",
  retryOn: ["transient", "rate_limit", "timeout", "network", "invalid_output"],
};

const BACKOFFS: [Backoff, string][] = [
  ["fixed", "Fixed: the same wait every time"],
  ["linear", "Linear: 1×, 2×, 3× the first wait"],
  ["exponential", "Exponential: multiplied by the factor"],
  ["fibonacci", "Fibonacci: 1, 1, 2, 3, 5× the first wait"],
];

const JITTERS: [Jitter, string][] = [
  ["none", "None"],
  ["quarter", "±25 %"],
  ["full", "Full (0 to the wait)"],
];

const CLASSES: [ErrorClass, string, string][] = [
  ["transient", "Server errors", "5xx answers, an open circuit breaker"],
  ["rate_limit", "Rate limited", "429; waits as long as the server asks"],
  ["timeout", "Timeouts", "no answer in time, 408"],
  ["network", "Network", "refused or dropped connections, DNS, a model's answer broken off"],
  ["invalid_output", "Invalid output", "a model's answer that is not the JSON asked for"],
  ["permanent", "Permanent", "401, 403 and other 4xx; bad certificates"],
  ["unknown", "Other", "errors of no known class (e.g. a Code node's throw)"],
];

/** The waits before each retry, as the engine computes them (without jitter). */
export function plannedDelays(p: RetryPolicy): number[] {
  const delays: number[] = [];
  let a = 1;
  let b = 1;
  for (let n = 1; n < p.maxTries; n++) {
    let ms: number;
    switch (p.backoff) {
      case "fixed":
        ms = p.initialDelayMs;
        break;
      case "linear":
        ms = p.initialDelayMs * n;
        break;
      case "exponential":
        ms = p.initialDelayMs * Math.pow(Math.max(1, p.factor), n - 1);
        break;
      case "fibonacci":
        ms = p.initialDelayMs * a;
        [a, b] = [b, a + b];
        break;
    }
    delays.push(Math.min(ms, p.maxDelayMs));
  }
  return delays;
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function RetrySettings({ settings, perItem, onSettings }: { settings: NodeSettings; perItem: boolean; onSettings: (s: Partial<NodeSettings>) => void }) {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...(settings.retry ?? {}) };
  const set = (change: Partial<RetryPolicy>) => onSettings({ retry: { ...policy, ...change } });
  const enabled = policy.maxTries > 1;
  const delays = plannedDelays(policy);
  return (
    <div className="retry-settings" data-testid="retry-settings">
      {perItem && (
        <NumberField
          id="node-concurrency"
          label="Items at a time"
          value={settings.concurrency ?? 1}
          min={1}
          max={50}
          whole
          onChange={(n) => onSettings({ concurrency: n })}
          hint="Calls made at once; the output keeps the input's order."
        />
      )}
      <div className="field row">
        <input id="retry-enabled" type="checkbox" checked={enabled} onChange={(e) => onSettings({ retry: e.target.checked ? { ...policy, maxTries: 3 } : undefined })} />
        <label htmlFor="retry-enabled" style={{ margin: 0 }}>
          Retry on failure{perItem ? " (each failed item)" : ""}
        </label>
      </div>
      {enabled && (
        <>
          <div className="field-grid">
            <NumberField id="retry-max-tries" label="Tries in all" value={policy.maxTries} min={2} max={20} whole onChange={(n) => set({ maxTries: n })} />
            <div className="field">
              <label htmlFor="retry-backoff">Wait grows</label>
              <select id="retry-backoff" value={policy.backoff} onChange={(e) => set({ backoff: e.target.value as Backoff })}>
                {BACKOFFS.map(([v, text]) => (
                  <option key={v} value={v}>
                    {text}
                  </option>
                ))}
              </select>
            </div>
            <NumberField id="retry-initial" label="First wait (ms)" value={policy.initialDelayMs} min={0} max={3600000} whole onChange={(n) => set({ initialDelayMs: n })} />
            {policy.backoff === "exponential" && <NumberField id="retry-factor" label="Factor" value={policy.factor} min={1} max={10} onChange={(n) => set({ factor: n })} />}
            <NumberField id="retry-max-delay" label="Longest wait (ms)" value={policy.maxDelayMs} min={0} max={3600000} whole onChange={(n) => set({ maxDelayMs: n })} />
            <div className="field">
              <label htmlFor="retry-jitter">Jitter</label>
              <select id="retry-jitter" value={policy.jitter} onChange={(e) => set({ jitter: e.target.value as Jitter })}>
                {JITTERS.map(([v, text]) => (
                  <option key={v} value={v}>
                    {text}
                  </option>
                ))}
              </select>
            </div>
          </div>
          <div className="field">
            <label>Retry these errors</label>
            <div className="retry-classes">
              {CLASSES.map(([c, text, hint]) => (
                <label key={c} title={hint}>
                  <input
                    type="checkbox"
                    aria-label={`Retry ${text}`}
                    checked={policy.retryOn.includes(c)}
                    onChange={(e) => set({ retryOn: e.target.checked ? [...policy.retryOn, c] : policy.retryOn.filter((x) => x !== c) })}
                  />
                  {text}
                </label>
              ))}
            </div>
          </div>
          <div className="hint" data-testid="retry-plan">
            Waits: {delays.map(seconds).join(", ")}
            {policy.jitter !== "none" ? " (before jitter)" : ""}. A server's Retry-After replaces the wait.
            {settings.onError === "errorOutput" ? " Failed items go to the error output after the last try." : ""}
          </div>
        </>
      )}
    </div>
  );
}
