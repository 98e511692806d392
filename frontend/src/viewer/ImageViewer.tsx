// The case image on a canvas: window/level by dragging, zoom with the wheel, pan with the middle
// button, a modifier key (Shift/Ctrl/Alt) or the pan tool, and the heatmap drawn over it.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { applyWindowToPixels, dragToWindow, fitView, zoomAt, type View, type Window } from "./windowing";

export type Tool = "window" | "pan";

export interface ImageViewerProps {
  imageUrl: string;
  heatmapUrl: string | null;
  showHeatmap: boolean;
  heatmapOpacity: number;
  invert: boolean;
  window: Window;
  onWindowChange: (window: Window) => void;
  tool: Tool;
  /** Changing this value refits the image (the R key). */
  resetKey: number;
  /** Changing this value zooms by the given factor about the centre (+/- keys). */
  zoomRequest?: { factor: number; seq: number };
  label: string;
}

type Load = { state: "loading" } | { state: "error"; message: string } | { state: "ready"; image: HTMLImageElement };

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.decoding = "async";
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the image could not be loaded"));
    image.src = url;
  });
}

function useLoadedImage(url: string | null): Load | null {
  const [load, setLoad] = useState<Load | null>(url ? { state: "loading" } : null);
  useEffect(() => {
    if (!url) {
      setLoad(null);
      return;
    }
    let live = true;
    setLoad({ state: "loading" });
    loadImage(url).then(
      (image) => live && setLoad({ state: "ready", image }),
      (error: Error) => live && setLoad({ state: "error", message: error.message }),
    );
    return () => {
      live = false;
    };
  }, [url]);
  return load;
}

export function ImageViewer(props: ImageViewerProps) {
  const { imageUrl, heatmapUrl, showHeatmap, heatmapOpacity, invert, window, onWindowChange, tool, resetKey, zoomRequest, label } =
    props;
  const containerRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const sourceRef = useRef<ImageData | null>(null);
  const windowedRef = useRef<HTMLCanvasElement | null>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  const [view, setView] = useState<View | null>(null);
  const [drag, setDrag] = useState<"window" | "pan" | null>(null);
  const dragStart = useRef<{ x: number; y: number; window: Window; view: View } | null>(null);
  const image = useLoadedImage(imageUrl);
  const heatmap = useLoadedImage(showHeatmap ? heatmapUrl : null);
  const [windowedVersion, setWindowedVersion] = useState(0);

  // Size the canvas to its container.
  useLayoutEffect(() => {
    const container = containerRef.current;
    if (!container) return;
    const observer = new ResizeObserver(([entry]) => {
      if (!entry) return;
      setSize({ width: Math.floor(entry.contentRect.width), height: Math.floor(entry.contentRect.height) });
    });
    observer.observe(container);
    return () => observer.disconnect();
  }, []);

  // Read the source pixels once per image.
  useEffect(() => {
    if (image?.state !== "ready") return;
    const { naturalWidth: width, naturalHeight: height } = image.image;
    const scratch = document.createElement("canvas");
    scratch.width = width;
    scratch.height = height;
    const context = scratch.getContext("2d", { willReadFrequently: true });
    if (!context) return;
    context.drawImage(image.image, 0, 0);
    sourceRef.current = context.getImageData(0, 0, width, height);
    windowedRef.current = document.createElement("canvas");
    windowedRef.current.width = width;
    windowedRef.current.height = height;
    setView(null);
  }, [image]);

  // Apply window/level and invert into the windowed canvas.
  useEffect(() => {
    const source = sourceRef.current;
    const target = windowedRef.current;
    if (!source || !target || image?.state !== "ready") return;
    const out = new ImageData(source.width, source.height);
    applyWindowToPixels(source.data, out.data, window, invert);
    target.getContext("2d")?.putImageData(out, 0, 0);
    setWindowedVersion((v) => v + 1);
  }, [image, window, invert]);

  // Fit on a new image, a new size or a reset.
  useEffect(() => {
    if (image?.state !== "ready" || !size.width || !size.height) return;
    setView(fitView(image.image.naturalWidth, image.image.naturalHeight, size.width, size.height));
  }, [image, size.width, size.height, resetKey]);

  // A new zoomRequest object is a new request (the +/- keys); the size is read, not watched.
  const sizeRef = useRef(size);
  sizeRef.current = size;
  useEffect(() => {
    const { width, height } = sizeRef.current;
    if (!zoomRequest || zoomRequest.seq === 0 || !width) return;
    setView((current) => (current ? zoomAt(current, zoomRequest.factor, width / 2, height / 2) : current));
  }, [zoomRequest]);

  // Draw.
  useEffect(() => {
    const canvas = canvasRef.current;
    const windowed = windowedRef.current;
    if (!canvas || !size.width || !size.height) return;
    const ratio = globalThis.devicePixelRatio || 1;
    canvas.width = Math.round(size.width * ratio);
    canvas.height = Math.round(size.height * ratio);
    const context = canvas.getContext("2d");
    if (!context) return;
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.fillStyle = "#000";
    context.fillRect(0, 0, size.width, size.height);
    if (!windowed || !view || image?.state !== "ready") return;
    const width = image.image.naturalWidth * view.scale;
    const height = image.image.naturalHeight * view.scale;
    context.imageSmoothingEnabled = view.scale < 2;
    context.drawImage(windowed, view.x, view.y, width, height);
    if (showHeatmap && heatmap?.state === "ready") {
      context.globalAlpha = heatmapOpacity;
      context.imageSmoothingEnabled = true;
      context.drawImage(heatmap.image, view.x, view.y, width, height);
      context.globalAlpha = 1;
    }
  }, [size, view, image, heatmap, showHeatmap, heatmapOpacity, windowedVersion]);

  // Wheel zoom (a non-passive listener, so the page does not scroll).
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const onWheel = (event: WheelEvent) => {
      event.preventDefault();
      const rect = canvas.getBoundingClientRect();
      const factor = Math.exp(-event.deltaY * 0.0015);
      setView((current) => (current ? zoomAt(current, factor, event.clientX - rect.left, event.clientY - rect.top) : current));
    };
    canvas.addEventListener("wheel", onWheel, { passive: false });
    return () => canvas.removeEventListener("wheel", onWheel);
  }, []);

  const onPointerDown = useCallback(
    (event: React.PointerEvent<HTMLCanvasElement>) => {
      if (!view || (event.button !== 0 && event.button !== 1)) return;
      event.preventDefault();
      const pan = event.button === 1 || tool === "pan" || event.shiftKey || event.ctrlKey || event.altKey;
      event.currentTarget.setPointerCapture(event.pointerId);
      dragStart.current = { x: event.clientX, y: event.clientY, window, view };
      setDrag(pan ? "pan" : "window");
    },
    [view, tool, window],
  );

  // Pointer moves are coalesced to one update per animation frame: windowing a large image per event
  // would fall behind the pointer.
  const pendingMove = useRef<{ dx: number; dy: number } | null>(null);
  const frame = useRef<number | null>(null);
  const onPointerMove = useCallback(
    (event: React.PointerEvent<HTMLCanvasElement>) => {
      const start = dragStart.current;
      if (!start || !drag) return;
      pendingMove.current = { dx: event.clientX - start.x, dy: event.clientY - start.y };
      if (frame.current !== null) return;
      frame.current = requestAnimationFrame(() => {
        frame.current = null;
        const move = pendingMove.current;
        const origin = dragStart.current;
        if (!move || !origin) return;
        if (drag === "pan") setView({ ...origin.view, x: origin.view.x + move.dx, y: origin.view.y + move.dy });
        else onWindowChange(dragToWindow(origin.window, move.dx, move.dy));
      });
    },
    [drag, onWindowChange],
  );

  const endDrag = useCallback(() => {
    if (frame.current !== null) cancelAnimationFrame(frame.current);
    frame.current = null;
    const move = pendingMove.current;
    const origin = dragStart.current;
    // The last position counts even if its frame had not come yet.
    if (move && origin) {
      if (drag === "pan") setView({ ...origin.view, x: origin.view.x + move.dx, y: origin.view.y + move.dy });
      else if (drag === "window") onWindowChange(dragToWindow(origin.window, move.dx, move.dy));
    }
    pendingMove.current = null;
    dragStart.current = null;
    setDrag(null);
  }, [drag, onWindowChange]);

  const cursor = drag === "pan" || tool === "pan" ? (drag ? "grabbing" : "grab") : "crosshair";

  return (
    <div className="viewer" ref={containerRef}>
      <canvas
        ref={canvasRef}
        className="viewer-canvas"
        style={{ cursor, width: size.width, height: size.height }}
        tabIndex={0}
        role="img"
        aria-label={label}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={endDrag}
        onPointerCancel={endDrag}
        onAuxClick={(event) => event.preventDefault()}
        onContextMenu={(event) => event.preventDefault()}
        data-testid="viewer-canvas"
        data-ready={image?.state === "ready" ? "true" : "false"}
        data-heatmap={showHeatmap && heatmap?.state === "ready" ? "shown" : "hidden"}
      />
      {image?.state === "loading" && <p className="viewer-status" role="status">Loading image…</p>}
      {image?.state === "error" && (
        <p className="viewer-status error" role="alert">
          The image could not be shown: {image.message}.
        </p>
      )}
      {showHeatmap && heatmap?.state === "loading" && <p className="viewer-badge" role="status">Computing heatmap…</p>}
      {showHeatmap && heatmap?.state === "error" && (
        <p className="viewer-badge error" role="alert">The heatmap could not be loaded.</p>
      )}
    </div>
  );
}
