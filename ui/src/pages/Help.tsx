// The Help page: the user guide shipped with the app (docs/), its pages listed on the left and
// the one open rendered on the right. Links to other pages of the guide stay here; web links
// open in the browser after a click.
import { useEffect, useState } from "react";
import { call, errorMessage } from "../api/client";
import { toast } from "../components/toasts";
import type { HelpPage } from "../gen/HelpPage";
import type { HelpPageSummary } from "../gen/HelpPageSummary";
import { Markdown } from "../lib/markdown";

async function openInBrowser(url: string) {
  try {
    await call("link_open", { url });
  } catch (e) {
    toast(errorMessage(e), "error");
  }
}

export function Help({ page: initial }: { page?: string }) {
  const [pages, setPages] = useState<HelpPageSummary[]>([]);
  const [name, setName] = useState(initial ?? "desktop-app");
  const [page, setPage] = useState<HelpPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call("help_pages", {})
      .then((r) => setPages(r.pages))
      .catch((e) => setError(errorMessage(e)));
  }, []);
  useEffect(() => {
    call("help_page", { name })
      .then((p) => {
        setPage(p);
        setError(null);
        document.querySelector(".help-text")?.scrollTo(0, 0);
      })
      .catch((e) => setError(errorMessage(e)));
  }, [name]);
  return (
    <div className="help-page" data-testid="help-page">
      <nav className="help-index" aria-label="Guide pages">
        <h1>Guide</h1>
        <ul>
          {pages.map((p) => (
            <li key={p.name}>
              <button className={`link${p.name === name ? " active" : ""}`} aria-current={p.name === name ? "page" : undefined} onClick={() => setName(p.name)} data-testid={`help-${p.name}`}>
                {p.title}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <article className="help-text" data-testid="help-text">
        {error && <div className="error-text">{error}</div>}
        {page && <Markdown text={page.text} prose open={{ open: (url) => void openInBrowser(url), page: setName }} />}
      </article>
    </div>
  );
}
