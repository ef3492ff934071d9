// The first page of a PDF, drawn by pdf.js into a canvas: the window's own PDF viewer is
// not there in every webview (WebKitGTK shows nothing for <object type=application/pdf>).
// pdf.js is loaded only when a PDF is previewed, and runs without eval (the app's CSP).
import { useEffect, useRef, useState } from "react";

/** The bytes of a `data:…;base64,` URL. */
export function bytesOfDataUrl(dataUrl: string): Uint8Array {
  const binary = atob(dataUrl.slice(dataUrl.indexOf(",") + 1));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

type State = { status: "loading" } | { status: "shown"; pages: number } | { status: "failed"; message: string };

/** The first page, fitted into `width` × `height` CSS pixels (drawn sharp on HiDPI screens). */
export function PdfPreview({ dataUrl, width = 520, height = 420 }: { dataUrl: string; width?: number; height?: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [state, setState] = useState<State>({ status: "loading" });

  useEffect(() => {
    let cancelled = false;
    let destroy: (() => void) | null = null;
    setState({ status: "loading" });
    (async () => {
      const pdfjs = await import("pdfjs-dist");
      const worker = await import("pdfjs-dist/build/pdf.worker.min.mjs?url");
      pdfjs.GlobalWorkerOptions.workerSrc = worker.default;
      const task = pdfjs.getDocument({ data: bytesOfDataUrl(dataUrl), isEvalSupported: false });
      destroy = () => void task.destroy();
      const doc = await task.promise;
      const page = await doc.getPage(1);
      const ratio = window.devicePixelRatio || 1;
      const natural = page.getViewport({ scale: 1 });
      const fit = Math.min(width / natural.width, height / natural.height, 2);
      const viewport = page.getViewport({ scale: fit * ratio });
      const target = canvas.current;
      const context = target?.getContext("2d");
      if (cancelled || !target || !context) return;
      target.width = Math.floor(viewport.width);
      target.height = Math.floor(viewport.height);
      target.style.width = `${Math.floor(viewport.width / ratio)}px`;
      await page.render({ canvas: target, canvasContext: context, viewport }).promise;
      if (!cancelled) setState({ status: "shown", pages: doc.numPages });
    })().catch((e: unknown) => {
      if (!cancelled) setState({ status: "failed", message: e instanceof Error ? e.message : String(e) });
    });
    return () => {
      cancelled = true;
      destroy?.();
    };
  }, [dataUrl, width, height]);

  return (
    <div className="pdf-preview" data-testid="pdf-preview" data-status={state.status}>
      {state.status === "failed" ? (
        <div className="muted">This PDF cannot be shown ({state.message}): save it to open it.</div>
      ) : (
        <>
          <canvas ref={canvas} aria-label="First page of the PDF" data-testid="pdf-page" />
          <div className="muted">{state.status === "loading" ? "Drawing the first page…" : `page 1 of ${state.pages}`}</div>
        </>
      )}
    </div>
  );
}
