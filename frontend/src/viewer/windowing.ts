// Window/level on the displayed 8-bit values (0..255), as pure functions the viewer and its tests
// share: the window of images stored before their value range was recorded (the others are windowed
// in modality units, `modalityWindow.ts`), and the table both kinds are applied through. Conventions follow radiology viewers: dragging right widens the window (less contrast),
// dragging down raises the level (darker image), in display units per screen pixel.

export interface Window {
  /** Window width: the range of input values spread over black..white. */
  width: number;
  /** Window centre (level): the input value shown as mid-grey. */
  center: number;
}

export const MIN_WIDTH = 1;
export const MAX_WIDTH = 512;
export const MIN_CENTER = -128;
export const MAX_CENTER = 383;

/** The identity: 0..255 shown exactly as the server rendered the image. */
export const DEFAULT_WINDOW: Window = { width: 255, center: 127.5 };

export interface WindowPreset {
  key: string;
  label: string;
  window: Window;
}

/** Presets in display units (the server's rendering of the image is 0..255). */
export const PRESETS: WindowPreset[] = [
  { key: "default", label: "Default", window: DEFAULT_WINDOW },
  { key: "contrast", label: "High contrast", window: { width: 128, center: 128 } },
  { key: "dark", label: "Dark detail (lung)", window: { width: 128, center: 80 } },
  { key: "bright", label: "Bright detail (bone)", window: { width: 128, center: 180 } },
];

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

/** The window after a drag of (dx, dy) screen pixels that started at `start`. */
export function dragToWindow(start: Window, dx: number, dy: number, sensitivity = 1): Window {
  return {
    width: clamp(start.width + dx * sensitivity, MIN_WIDTH, MAX_WIDTH),
    center: clamp(start.center + dy * sensitivity, MIN_CENTER, MAX_CENTER),
  };
}

/**
 * One input value through the window (linear, DICOM PS3.3 C.11.2.1.2 without the 0.5 offsets):
 * below center - width/2 is black, above center + width/2 is white; `invert` swaps black and white.
 */
export function applyWindow(value: number, window: Window, invert = false): number {
  const width = Math.max(MIN_WIDTH, window.width);
  const low = window.center - width / 2;
  const out = Math.round(clamp(((value - low) / width) * 255, 0, 255));
  return invert ? 255 - out : out;
}

/** A 256-entry lookup table for every 8-bit input value. */
export function windowLut(window: Window, invert = false): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(256);
  for (let value = 0; value < 256; value += 1) lut[value] = applyWindow(value, window, invert);
  return lut;
}

/**
 * Applies the window to RGBA pixels (grey images: the red channel is the value) into `out`, which
 * may be the same array. Alpha is kept.
 */
export function applyWindowToPixels(
  source: Uint8ClampedArray,
  out: Uint8ClampedArray,
  window: Window,
  invert = false,
): Uint8ClampedArray {
  return applyLutToPixels(source, out, windowLut(window, invert));
}

/** Maps RGBA pixels (grey: the red channel is the value) through a 256-entry table into `out`. */
export function applyLutToPixels(source: Uint8ClampedArray, out: Uint8ClampedArray, lut: Uint8ClampedArray): Uint8ClampedArray {
  for (let i = 0; i < source.length; i += 4) {
    const grey = lut[source[i]!]!;
    out[i] = grey;
    out[i + 1] = grey;
    out[i + 2] = grey;
    out[i + 3] = source[i + 3]!;
  }
  return out;
}

export function isDefaultWindow(window: Window): boolean {
  return window.width === DEFAULT_WINDOW.width && window.center === DEFAULT_WINDOW.center;
}

// --- zoom and pan ----------------------------------------------------------------------------------

export interface View {
  /** Screen pixels per image pixel. */
  scale: number;
  /** Screen position of the image's top-left corner, in canvas pixels. */
  x: number;
  y: number;
}

export const MIN_SCALE = 0.05;
export const MAX_SCALE = 40;

/** The view that fits the whole image in the canvas, centred. */
export function fitView(imageWidth: number, imageHeight: number, canvasWidth: number, canvasHeight: number): View {
  const scale = Math.min(canvasWidth / imageWidth, canvasHeight / imageHeight) * 0.96;
  return { scale, x: (canvasWidth - imageWidth * scale) / 2, y: (canvasHeight - imageHeight * scale) / 2 };
}

/** Zooms by `factor` keeping the image point under (px, py) in place. */
export function zoomAt(view: View, factor: number, px: number, py: number): View {
  const scale = clamp(view.scale * factor, MIN_SCALE, MAX_SCALE);
  const applied = scale / view.scale;
  return { scale, x: px - (px - view.x) * applied, y: py - (py - view.y) * applied };
}
