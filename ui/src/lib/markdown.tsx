// A small markdown renderer for sticky notes and the user guide. It builds React elements,
// never HTML strings:
// whatever a shared file's note holds (<script>, <img onerror=…>, raw HTML) shows as text.
// Links become links only for http, https and mailto; the caller decides what a click does
// (the editor asks before opening the browser).
import { Fragment, type ReactNode } from "react";

export type OpenLink = (url: string) => void;

/** Whether a link target may be followed: a web or mail address, nothing else. */
export function safeUrl(url: string): boolean {
  return /^(https?:\/\/|mailto:)/i.test(url.trim());
}

interface Block {
  kind: "p" | "h" | "ul" | "ol" | "quote" | "code" | "hr" | "table";
  level?: number;
  lines: string[];
}

/** Splits the text into blocks: headings, lists, quotes, fenced code, rules, paragraphs. */
export function blocks(text: string): Block[] {
  const out: Block[] = [];
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  const push = (kind: Block["kind"], line: string, level?: number) => {
    const last = out[out.length - 1];
    if (last && last.kind === kind && kind !== "h" && kind !== "hr" && kind !== "code") last.lines.push(line);
    else out.push({ kind, level, lines: [line] });
  };
  while (i < lines.length) {
    const line = lines[i];
    const fence = /^\s*```/.exec(line);
    if (fence) {
      const code: string[] = [];
      i += 1;
      while (i < lines.length && !/^\s*```/.test(lines[i])) code.push(lines[i++]);
      i += 1; // the closing fence (or the end)
      out.push({ kind: "code", lines: code });
      continue;
    }
    // A table: a header row, a |---| row, and the rows after.
    if (/^\s*\|/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{2,}/.test(lines[i + 1])) {
      const rows = [line];
      i += 2;
      while (i < lines.length && /^\s*\|/.test(lines[i])) rows.push(lines[i++]);
      out.push({ kind: "table", lines: rows });
      continue;
    }
    let m: RegExpExecArray | null;
    const last = out[out.length - 1];
    // An indented line right after a list item goes on with that item.
    if (last && (last.kind === "ul" || last.kind === "ol") && /^\s{2,}\S/.test(line) && !/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      last.lines[last.lines.length - 1] += ` ${line.trim()}`;
      i += 1;
      continue;
    }
    if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) push("h", m[2], m[1].length);
    else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) push("hr", "");
    else if ((m = /^\s*[-*+]\s+(.*)$/.exec(line))) push("ul", m[1]);
    else if ((m = /^\s*\d+[.)]\s+(.*)$/.exec(line))) push("ol", m[1]);
    else if ((m = /^\s*>\s?(.*)$/.exec(line))) push("quote", m[1]);
    else if (line.trim() === "") out.push({ kind: "p", lines: [] });
    else push("p", line);
    i += 1;
  }
  return out.filter((b) => b.kind !== "p" || b.lines.length > 0);
}

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*|__[^_]+__)|(~~[^~]+~~)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]*\]\([^)\s]*\))|(<?(?:https?:\/\/|mailto:)[^\s<>)]+>?)/;

/** A table row's cells (`\\|` is a bar inside a cell). */
export function cells(row: string): string[] {
  const inner = row.trim().replace(/^\|/, "").replace(/\|$/, "");
  return inner.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

/** A link to another page of the guide (`ai.md`, `ai.md#errors`), as the page's name. */
export function guidePage(url: string): string | null {
  const m = /^(?:\.\/)?([a-z0-9-]+)\.md(?:#[\w-]*)?$/i.exec(url.trim());
  return m ? m[1] : null;
}

/** Where links lead: `open` gets web and mail links; `page`, when given, links to other
 * pages of the guide. */
export interface Links {
  open: OpenLink;
  page?: (name: string) => void;
}

/** Inline markdown: code, bold, italic, strike-through, links and bare web addresses. */
export function inline(text: string, open: OpenLink | Links, key = "i"): ReactNode[] {
  const out: ReactNode[] = [];
  let rest = text;
  let n = 0;
  while (rest.length > 0) {
    const m = INLINE.exec(rest);
    if (!m) {
      out.push(rest);
      break;
    }
    if (m.index > 0) out.push(rest.slice(0, m.index));
    const token = m[0];
    const k = `${key}.${n++}`;
    if (m[1]) out.push(<code key={k}>{token.slice(1, -1)}</code>);
    else if (m[2]) out.push(<strong key={k}>{inline(token.slice(2, -2), open, k)}</strong>);
    else if (m[3]) out.push(<s key={k}>{inline(token.slice(2, -2), open, k)}</s>);
    else if (m[4]) out.push(<em key={k}>{inline(token.slice(1, -1), open, k)}</em>);
    else if (m[5]) {
      const link = /^\[([^\]]*)\]\(([^)\s]*)\)$/.exec(token)!;
      out.push(<Link key={k} url={link[2]} label={inline(link[1] || link[2], open, k)} open={open} />);
    } else {
      const url = token.replace(/^</, "").replace(/>$/, "");
      out.push(<Link key={k} url={url} label={url} open={open} />);
    }
    rest = rest.slice(m.index + token.length);
  }
  return out;
}

function Link({ url, label, open: to }: { url: string; label: ReactNode; open: OpenLink | Links }) {
  const links: Links = typeof to === "function" ? { open: to } : to;
  const open = links.open;
  const page = guidePage(url);
  if (page && links.page) {
    const go = links.page;
    return (
      <a
        href={`#${page}`}
        onClick={(e) => {
          e.preventDefault();
          e.stopPropagation();
          go(page);
        }}
      >
        {label}
      </a>
    );
  }
  if (!safeUrl(url)) {
    // Not a web or mail link (javascript:, file:, a relative path): shown, not followed.
    return (
      <span className="unsafe-link" title={`Not opened: only web and mail links open (${url})`}>
        {label}
      </span>
    );
  }
  return (
    <a
      href={url}
      title={url}
      onClick={(e) => {
        e.preventDefault();
        e.stopPropagation();
        open(url);
      }}
    >
      {label}
    </a>
  );
}

/** `prose`: a paragraph's lines flow together (the guide); else each line stays a line (notes). */
export function Markdown({ text, open, prose = false }: { text: string; open: OpenLink | Links; prose?: boolean }) {
  return (
    <>
      {blocks(text).map((b, i) => {
        const k = `b${i}`;
        const lines = (ls: string[]) =>
          prose
            ? inline(ls.join(" "), open, k)
            : ls.map((l, j) => (
                <Fragment key={j}>
                  {j > 0 && <br />}
                  {inline(l, open, `${k}.${j}`)}
                </Fragment>
              ));
        switch (b.kind) {
          case "h": {
            const H = `h${Math.min(6, (b.level ?? 1) + 1)}` as "h2";
            return <H key={k}>{inline(b.lines[0], open, k)}</H>;
          }
          case "hr":
            return <hr key={k} />;
          case "code":
            return (
              <pre key={k}>
                <code>{b.lines.join("\n")}</code>
              </pre>
            );
          case "ul":
          case "ol": {
            const L = b.kind;
            return (
              <L key={k}>
                {b.lines.map((l, j) => (
                  <li key={j}>{inline(l, open, `${k}.${j}`)}</li>
                ))}
              </L>
            );
          }
          case "quote":
            return <blockquote key={k}>{lines(b.lines)}</blockquote>;
          case "table": {
            const [head, ...rows] = b.lines.map(cells);
            return (
              <table key={k} className="plain">
                <thead>
                  <tr>
                    {head.map((c, j) => (
                      <th key={j}>{inline(c, open, `${k}.h${j}`)}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {rows.map((r, ri) => (
                    <tr key={ri}>
                      {r.map((c, j) => (
                        <td key={j}>{inline(c, open, `${k}.${ri}.${j}`)}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            );
          }
          default:
            return <p key={k}>{lines(b.lines)}</p>;
        }
      })}
    </>
  );
}
