// The files (binary properties) of a node's items: name, type and size, a preview of text,
// JSON, images and PDFs, and "Save as…" through the OS's dialog.
import { useRef, useState } from "react";
import { call, errorMessage } from "../api/client";
import { chooseSaveFilePath } from "../api/platform";
import { toast } from "../components/toasts";
import type { BinaryData } from "../gen/BinaryData";
import type { FilePreview } from "../gen/FilePreview";
import type { Item } from "../gen/Item";
import { formatSize } from "../lib/size";
import { PdfPreview } from "./PdfPreview";

const MAX_LISTED = 200;


/** Every file of the items, with the item it belongs to. */
export function filesOf(items: Item[]): { item: number; property: string; data: BinaryData }[] {
  const out: { item: number; property: string; data: BinaryData }[] = [];
  items.forEach((item, i) => {
    for (const [property, data] of Object.entries(item.binary ?? {})) {
      if (data) out.push({ item: i, property, data });
    }
  });
  return out;
}

/** Which file a row shows: its place and its content, so that a new file there is another row. */
function keyOf(item: number, property: string, data: BinaryData): string {
  return `${item}:${property}:${data.ref}`;
}

export function FilesView({ items }: { items: Item[] }) {
  const files = filesOf(items);
  const [open, setOpen] = useState<string | null>(null);
  const [preview, setPreview] = useState<FilePreview | null>(null);
  // The preview asked for last: an answer for an earlier one is dropped.
  const asked = useRef<string | null>(null);

  async function show(data: BinaryData, key: string) {
    if (open === key) {
      setOpen(null);
      asked.current = null;
      return;
    }
    setOpen(key);
    setPreview(null);
    asked.current = key;
    try {
      const answer = await call("file_preview", { reference: data.ref, mimeType: data.mimeType });
      if (asked.current === key) setPreview(answer);
    } catch (e) {
      toast(errorMessage(e), "error");
      if (asked.current === key) setOpen(null);
    }
  }

  async function save(data: BinaryData) {
    try {
      const path = await chooseSaveFilePath(data.fileName || "file");
      if (!path) return;
      await call("file_save", { reference: data.ref, path });
      toast(`Saved ${data.fileName || "the file"} to ${path}`, "success");
    } catch (e) {
      toast(errorMessage(e), "error");
    }
  }

  if (files.length === 0) return <div className="muted">These items carry no files.</div>;
  // Another node's items (or a new run) may have other files under the same names: a
  // preview stays open only while its very file is listed.
  const shown = open !== null && files.some(({ item, property, data }) => keyOf(item, property, data) === open);
  return (
    <div className="files-view" data-testid="files-view">
      <table className="items-table">
        <thead>
          <tr>
            <th>#</th>
            <th>property</th>
            <th>file name</th>
            <th>type</th>
            <th>size</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {files.slice(0, MAX_LISTED).map(({ item, property, data }) => {
            const key = keyOf(item, property, data);
            return (
              <tr key={key} data-testid="file-row">
                <td className="muted">{item}</td>
                <td>{property}</td>
                <td>{data.fileName}</td>
                <td>{data.mimeType}</td>
                <td title={`${data.size} bytes · sha256 ${data.sha256}`}>{formatSize(data.size)}</td>
                <td>
                  <button onClick={() => show(data, key)} aria-expanded={shown && open === key}>
                    {shown && open === key ? "Hide" : "Preview"}
                  </button>{" "}
                  <button onClick={() => save(data)} data-testid="file-save">
                    Save as…
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {files.length > MAX_LISTED && <div className="muted">first {MAX_LISTED} of {files.length} files</div>}
      {shown && (
        <div className="file-preview" data-testid="file-preview">
          {!preview && <div className="muted">Loading…</div>}
          {preview?.kind === "text" && (
            <pre className="json">
              {preview.text}
              {preview.truncated ? "\n… (the first 256 KiB)" : ""}
            </pre>
          )}
          {preview?.kind === "image" && <img src={preview.dataUrl} alt="preview" style={{ maxWidth: "100%", maxHeight: 360 }} />}
          {preview?.kind === "pdf" && preview.dataUrl && <PdfPreview dataUrl={preview.dataUrl} height={320} />}
          {preview?.kind === "none" && <div className="muted">No preview for this type or size ({formatSize(Number(preview.size))}): save it to open it.</div>}
        </div>
      )}
    </div>
  );
}
