// The review of an imported workflow: the accounts it would use, the nodes that use them and
// the hosts their credentials would go to, and the programs it runs and paths it reaches.
// Until the user trusts it here (or with `switchyard trust ID`), the workflow runs nothing
// that uses an account or this machine; afterwards only what was approved.
import type { TrustReview } from "../gen/TrustReview";
import { Modal } from "./Modal";

interface Props {
  review: TrustReview;
  busy?: boolean;
  onTrust: () => void;
  onClose: () => void;
}

export function TrustDialog({ review, busy, onTrust, onClose }: Props) {
  const adds = review.accounts.some((a) => a.newHosts.length > 0);
  const verbs: Record<string, string> = { command: "runs", read: "reads", write: "writes", secret: "hands out the secret of" };
  return (
    <Modal label="Trust this workflow?" className="trust-dialog" testId="trust-dialog" onClose={onClose}>
      <h2>Trust this workflow?</h2>
      <p>
        “{review.name}” comes from <strong>{review.untrusted ?? "a file"}</strong>. A shared file chooses which of your accounts it uses and where it sends
        them, and which programs it runs on this computer, so it runs none of that until you trust it.
      </p>
      {review.accounts.length === 0 ? (
        <p className="muted">It uses no accounts.</p>
      ) : (
        <ul className="trust-accounts">
          {review.accounts.map((a) => (
            <li key={`${a.connection}/${a.account ?? ""}`} data-testid="trust-account">
              <div>
                <strong>{a.resolvedLabel ?? a.account ?? "the default account"}</strong> <span className="muted">({a.connectionName})</span>
                {!a.accountId && <span className="error-text"> — no such account here yet</span>}
              </div>
              <div className="muted">used by {a.nodes.map((n) => `“${n}”`).join(", ")}</div>
              {a.hosts.map((h) => (
                <div key={h} className="trust-host">
                  <span>sends it to</span> <code>{h}</code>
                  {a.newHosts.includes(h) && <span className="badge warn">new: trusting allows this host</span>}
                </div>
              ))}
              {a.computedUrls.length > 0 && (
                <div className="muted">
                  {a.computedUrls.map((n) => `“${n}”`).join(", ")} compute{a.computedUrls.length === 1 ? "s" : ""} the URL while running: only hosts the
                  account already allows will get it.
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {review.local.length > 0 && (
        <ul className="trust-accounts" data-testid="trust-local">
          {review.local.map((l) => (
            <li key={`${l.kind}/${l.target}`} data-testid="trust-local-item">
              <div>
                {verbs[l.kind] ?? l.kind} <code>{l.target}</code>
                {!l.approved && <span className="badge warn">new: trusting approves it</span>}
              </div>
              <div className="muted">
                used by {l.nodes.map((n) => `“${n}”`).join(", ")}
                {l.target.endsWith("**") && " · computed while running: anything starting so"}
                {l.kind === "secret" && " · signs with it or gives it to a program: the account's allowed hosts cannot follow it"}
              </div>
            </li>
          ))}
        </ul>
      )}
      <div className="buttons">
        <button onClick={onClose}>Not now</button>
        <button className="primary" disabled={busy} onClick={onTrust} data-testid="trust-confirm">
          {adds ? "Trust and allow these hosts" : "Trust"}
        </button>
      </div>
    </Modal>
  );
}
