// An imported workflow until the user trusts it: the review of the accounts and hosts it
// would use and of what it reaches on this computer, and trusting it.
import { useCallback, useEffect, useState } from "react";
import { ApiFailure, call, errorMessage } from "../api/client";
import { toast } from "../components/toasts";
import type { TrustReview } from "../gen/TrustReview";

export function useTrustReview(workflowId: string, initialUntrusted: string | null) {
  const [untrusted, setUntrusted] = useState<string | null>(initialUntrusted);
  const [review, setReview] = useState<TrustReview | null>(null);
  const [trusting, setTrusting] = useState(false);
  const openReview = useCallback(async () => {
    try {
      setReview(await call("workflow_trust_review", { id: workflowId }));
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  }, [workflowId]);
  useEffect(() => {
    if (!initialUntrusted) return;
    // Opened untrusted: ask at once when it uses accounts or reaches this computer (programs,
    // files, folders): it cannot run them until then.
    void call("workflow_trust_review", { id: workflowId })
      .then((r) => (r.accounts.length > 0 || r.local.some((l) => !l.approved)) && setReview(r))
      .catch(() => undefined);
  }, [initialUntrusted, workflowId]);
  const trust = useCallback(async () => {
    if (!review) return;
    setTrusting(true);
    try {
      const record = await call("workflow_trust", { id: review.workflowId, version: review.version });
      setUntrusted(record.untrusted ?? null);
      setReview(null);
      toast(`Trusted “${record.workflow.name}”`, "success");
    } catch (e) {
      toast(errorMessage(e), "error");
      if (e instanceof ApiFailure && e.code === "conflict") void openReview();
    } finally {
      setTrusting(false);
    }
  }, [review, openReview]);
  const closeReview = useCallback(() => setReview(null), []);
  return { untrusted, review, trusting, openReview, trust, closeReview };
}
