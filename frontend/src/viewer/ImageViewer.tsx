// The case image on a canvas: window/level by dragging, zoom with the wheel, pan with the middle
// button, a modifier key (Shift/Ctrl/Alt) or the pan tool, and the heatmap drawn over it.
// In modality units (`rendered` given) the server renders each window; the image on screen is
// re-windowed from the window it was rendered with until the next render arrives, and stays on screen
// (zoom and pan kept) while it loads.
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { modalityLut } from "./modalityWindow";
import { applyLutToPixels, dragToWindow, fitView, windowLut, zoomAt, type View, type Window } from "./windowing";

export type Tool = "window" | "pan";

/** How the image at `imageUrl` was rendered: through this window in modality units. */
export interface RenderedWindow {
  window: Window;
  /** MONOCHROME1: the render is inverted (bright = low values). */
  sourceInverted: boolean;
}

export interface ImageViewerProps {
  imageUrl: string;
  heatmapUrl: string | null;
  showHeatmap: boolean;
  heatmapOpacity: number;
  invert: boolean;
  /** In display units (0..255 of the server's default rendering), or in modality units with `rendered`. */
  window: Window;
  onWindowChange: (window: Window) => void;
  /** The modality window `imageUrl` is rendered with; null or absent: `window` is in display units. */
  rendered?: RenderedWindow | null;
  /** The window after a drag of (dx, dy) screen pixels from `start` (default: display units, 1 a pixel). */
  dragWindow?: (start: Window, dx: number, dy: number) => Window;
  tool: Tool;
  /** Changing this value refits the image (the R key). */
  resetKey: number;
  /** Changing this value zooms by the given factor about the centre (+/- keys). */
  zoomRequest?: { factor: number; seq: number };
  label: string;
}

interface Shown<T> {
  image: HTMLImageElement;
  /** What the image's URL stood for when it was requested (for the case image: how it was rendered). */
  tag: T;
}

interface Load<T> {
  /** The image on screen: the latest one loaded (with `keepPrevious`, also while the next loads). */
  shown: Shown<T> | null;
  pending: boolean;
  error: string | null;
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.decoding = "async";
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the image could not be loaded"));
    image.src = url;
  });
}

function useLoadedImage<T>(url: string | null, tag: T, keepPrevious: boolean): Load<T> {
  const [load, setLoad] = useState<Load<T>>({ shown: null, pending: Boolean(url), error: null });
  // The tag belongs to the URL it came with: read when the URL is requested, not watched.
  const tagRef = useRef(tag);
  tagRef.current = tag;
  useEffect(() => {
    if (!url) {
      setLoad({ shown: null, pending: false, error: null });
      return;
    }
    let live = true;
    const requested = tagRef.current;
    setLoad((current) => ({ shown: keepPrevious ? current.shown : null, pending: true, error: null }));
    loadImage(url).then(
      (image) => live && setLoad({ shown: { image, tag: requested }, pending: false, error: null }),
      (error: Error) => live && setLoad((current) => ({ shown: keepPrevious ? current.shown : null, pending: false, error: error.message })),
    );
    return () => {
      live = false;
    };
  }, [url, keepPrevious]);
  return load;
}

export function ImageViewer(props: ImageViewerProps) {
  const { imageUrl, heatmapUrl, showHeatmap, heatmapOpacity, invert, window, onWindowChange, tool, resetKey, zoomRequest, label } =
    props;
  const rendered = props.rendered ?? null;
  const dragWindowRef = useRef(props.dragWindow ?? dragToWindow);
  dragWindowRef.current = props.dragWindow ?? dragToWindow;
  const containerRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const sourceRef = useRef<ImageData | null>(null);
  const windowedRef = useRef<HTMLCanvasElement | null>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  const [view, setView] = useState<View | null>(null);
  const [drag, setDrag] = useState<"window" | "pan" | null>(null);
  const dragStart = useRef<{ x: number; y: number; window: Window; view: View } | null>(null);
  const load = useLoadedImage<RenderedWindow | null>(imageUrl, rendered, true);
  const image = load.shown;
  // A heatmap belongs to one image: never kept over the next.
  const heatmapLoad = useLoadedImage(showHeatmap ? heatmapUrl : null, null, false);
  const heatmap = heatmapLoad.shown;
  // The size of the image last read, to refit only when a new image differs from it.
  const imageSize = useRef<{ width: number; height: number } | null>(null);
  const [newSize, setNewSize] = useState(0);
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

  // Read the source pixels once per image; a new render (or slice) of the same size keeps zoom and pan.
  useEffect(() => {
    if (!image) return;
    const { naturalWidth: width, naturalHeight: height } = image.image;
    const scratch = document.createElement("canvas");
    scratch.width = width;
    scratch.height = height;
    const context = scratch.getContext("2d", { willReadFrequently: true });
    if (!context) return;
    context.drawImage(image.image, 0, 0);
    sourceRef.current = context.getImageData(0, 0, width, height);
    const windowed = document.createElement("canvas");
    windowed.width = width;
    windowed.height = height;
    windowedRef.current = windowed;
    const previous = imageSize.current;
    if (!previous || previous.width !== width || previous.height !== height) {
      imageSize.current = { width, height };
      setView(null);
      setNewSize((n) => n + 1);
    }
  }, [image]);

  // Apply window/level and invert into the windowed canvas: in modality units, from the window the
  // image on screen was rendered with to the one asked for (the identity once its render is in).
  useEffect(() => {
    const source = sourceRef.current;
    const target = windowedRef.current;
    if (!source || !target || !image) return;
    const out = new ImageData(source.width, source.height);
    const lut = image.tag ? modalityLut(image.tag.window, window, image.tag.sourceInverted, invert) : windowLut(window, invert);
    applyLutToPixels(source.data, out.data, lut);
    target.getContext("2d")?.putImageData(out, 0, 0);
    setWindowedVersion((v) => v + 1);
  }, [image, window, invert]);

  // Fit on a new image size, a new canvas size or a reset.
  useEffect(() => {
    const dimensions = imageSize.current;
    if (!dimensions || !size.width || !size.height) return;
    setView(fitView(dimensions.width, dimensions.height, size.width, size.height));
  }, [size.width, size.height, resetKey, newSize]);

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
    if (!windowed || !view || !image) return;
    const width = image.image.naturalWidth * view.scale;
    const height = image.image.naturalHeight * view.scale;
    context.imageSmoothingEnabled = view.scale < 2;
    context.drawImage(windowed, view.x, view.y, width, height);
    if (showHeatmap && heatmap) {
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
        else onWindowChange(dragWindowRef.current(origin.window, move.dx, move.dy));
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
      else if (drag === "window") onWindowChange(dragWindowRef.current(origin.window, move.dx, move.dy));
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
        data-ready={image ? "true" : "false"}
        data-rendering={load.pending ? "true" : "false"}
        data-heatmap={showHeatmap && heatmap ? "shown" : "hidden"}
      />
      {!image && load.pending && <p className="viewer-status" role="status">Loading image…</p>}
      {!image && load.error && (
        <p className="viewer-status error" role="alert">
          The image could not be shown: {load.error}.
        </p>
      )}
      {image && load.pending && (
        <p className="viewer-badge left" role="status">
          Rendering…
        </p>
      )}
      {image && load.error && (
        <p className="viewer-badge left error" role="alert">
          The latest rendering failed ({load.error}); the previous one is shown.
        </p>
      )}
      {showHeatmap && heatmapLoad.pending && <p className="viewer-badge" role="status">Computing heatmap…</p>}
      {showHeatmap && heatmapLoad.error && (
        <p className="viewer-badge error" role="alert">The heatmap could not be loaded.</p>
      )}
    </div>
  );
}
