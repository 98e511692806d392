// Window/level in modality units (Hounsfield units for CT, the stored values otherwise), for images
// whose record carries `value_range` and `default_window`. The server renders the chosen window
// (`/render?window_center=&window_width=`, in modality units); between a change and its render
// arriving, the viewer re-windows the 8-bit image it already has (`modalityLut`), so dragging stays
// smooth. Images stored before the range was recorded keep the display-unit window (`windowing.ts`).
import type { Window, WindowPreset } from "./windowing";

export type WindowUnit = "HU" | "value";

/** What the viewer needs to window one image in modality units. */
export interface ModalityScale {
  modality: string | null;
  unit: WindowUnit;
  /** Lowest and highest modality value of the displayed frame. */
  range: [number, number];
  /** The file's default window: what the viewer opens with and what a reset returns to. */
  defaultWindow: Window;
  /** Where the centre and width may go: the value range, widened to take the default and the presets. */
  bounds: { minCenter: number; maxCenter: number; minWidth: number; maxWidth: number };
  /** The input step (1 for integer-like ranges, finer for small float ranges). */
  step: number;
  /** Modality units per screen pixel when dragging. */
  sensitivity: number;
  presets: WindowPreset[];
  /** MONOCHROME1: the server's rendering is inverted (bright = low values). */
  sourceInverted: boolean;
}

/** The fields of the image record this module reads (a subset of `ImagePublic`). */
export interface ModalityImageInfo {
  modality: string | null;
  format: string;
  photometric_interpretation?: string;
  /** [lowest, highest]; as the generated client types it, a plain array. */
  value_range?: readonly number[] | null;
  default_window?: Window | null;
}

/** CT presets in Hounsfield units (centre, width). */
export const CT_PRESETS: WindowPreset[] = [
  { key: "lung", label: "Lung", window: { center: -600, width: 1500 } },
  { key: "mediastinum", label: "Mediastinum", window: { center: 40, width: 400 } },
  { key: "bone", label: "Bone", window: { center: 400, width: 1800 } },
  { key: "brain", label: "Brain", window: { center: 40, width: 80 } },
];

export function unitFor(modality: string | null): WindowUnit {
  return modality?.toUpperCase() === "CT" ? "HU" : "value";
}

/** The step for inputs and rounding: 1 for ranges of 100 and more, else a power of ten about 1/1000 of it. */
export function stepFor(span: number): number {
  if (!(span > 0) || span >= 100) return 1;
  return 10 ** Math.floor(Math.log10(span) - 3);
}

/** Rounds to the step (keeping no float noise such as 0.30000000000000004). */
export function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return Number((Math.round(value / step) * step).toFixed(decimals));
}

/** The full value range as a window: the one whose LINEAR ramp (DICOM PS3.3 C.11.2.1.2.1, what the
 * server renders) runs exactly from the lowest value to the highest, as the server's own default for a
 * range (for 8-bit data the familiar centre 128, width 256). */
export function fullRangeWindow(range: [number, number]): Window {
  const [low, high] = range;
  return { center: (low + high) / 2 + 0.5, width: high - low + 1 };
}

/** Where a window's ramp starts and how long it is, as the server applies it: LINEAR (with its 0.5
 * offsets) for widths of 1 and more, LINEAR_EXACT below. */
export function windowRamp(window: Window): { low: number; length: number } {
  if (window.width < 1) return { low: window.center - window.width / 2, length: window.width };
  return { low: window.center - 0.5 - (window.width - 1) / 2, length: window.width - 1 };
}

/** The presets of a modality: CT's named windows; for every modality the file default and the full range. */
export function presetsFor(modality: string | null, range: [number, number], defaultWindow: Window): WindowPreset[] {
  const common: WindowPreset[] = [
    { key: "default", label: "File default", window: defaultWindow },
    { key: "full", label: "Full range", window: fullRangeWindow(range) },
  ];
  return unitFor(modality) === "HU" ? [common[0]!, ...CT_PRESETS, common[1]!] : common;
}

/** The modality scale of an image, or null when its record has no value range (stored earlier). */
export function modalityScale(info: ModalityImageInfo | undefined | null): ModalityScale | null {
  const values = info?.value_range;
  if (!info || !values || values.length !== 2 || !values.every(Number.isFinite) || values[1]! < values[0]!) return null;
  const range: [number, number] = [values[0]!, values[1]!];
  const span = range[1] - range[0];
  const step = stepFor(span);
  const minWidth = Math.min(1, Math.max(step, span / 1000));
  const defaultWindow =
    info.default_window && Number.isFinite(info.default_window.center) && info.default_window.width > 0
      ? info.default_window
      : fullRangeWindow(range);
  const presets = presetsFor(info.modality, range, defaultWindow);
  const centers = presets.map((preset) => preset.window.center);
  const widths = presets.map((preset) => preset.window.width);
  return {
    modality: info.modality,
    unit: unitFor(info.modality),
    range,
    defaultWindow,
    bounds: {
      minCenter: Math.min(range[0], ...centers),
      maxCenter: Math.max(range[1], ...centers),
      minWidth,
      maxWidth: Math.max(span, minWidth, ...widths),
    },
    step,
    sensitivity: Math.max(span, minWidth) / 512,
    presets,
    sourceInverted: info.photometric_interpretation === "MONOCHROME1",
  };
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

/** The window kept within the scale's bounds and rounded to its step. */
export function clampModalityWindow(window: Window, scale: ModalityScale): Window {
  const { bounds, step } = scale;
  return {
    center: clamp(roundTo(window.center, step), bounds.minCenter, bounds.maxCenter),
    width: clamp(roundTo(window.width, step), bounds.minWidth, bounds.maxWidth),
  };
}

/** The window after a drag of (dx, dy) screen pixels in modality units: right widens, down raises the level. */
export function dragModalityWindow(start: Window, dx: number, dy: number, scale: ModalityScale): Window {
  return clampModalityWindow({ width: start.width + dx * scale.sensitivity, center: start.center + dy * scale.sensitivity }, scale);
}

export function sameWindow(a: Window | null | undefined, b: Window | null | undefined): boolean {
  return Boolean(a && b && a.center === b.center && a.width === b.width);
}

/** The preset a window is, if any. */
export function presetOf(window: Window, presets: WindowPreset[]): WindowPreset | undefined {
  return presets.find((preset) => sameWindow(preset.window, window));
}

/**
 * The 8-bit display value that an image rendered with window `rendered` shows for each of its 256
 * levels, re-windowed to `target` (both in modality units): level v stands for the modality value
 * the start of the rendered window's ramp + v/255 × its length, which goes through `target`. Values the render clipped
 * stay clipped, which is why the server's render of `target` replaces this one as soon as it comes.
 * `sourceInverted`: the render is MONOCHROME1 (inverted), so is the result; `invert` inverts it again.
 */
export function modalityLut(rendered: Window, target: Window, sourceInverted = false, invert = false): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(256);
  const from = windowRamp(rendered);
  const to = windowRamp(target);
  for (let level = 0; level < 256; level += 1) {
    const straight = sourceInverted ? 255 - level : level;
    const value = from.low + (straight / 255) * from.length;
    // A ramp of length 0 (width 1) is a threshold: white above it.
    const fraction = to.length > 0 ? (value - to.low) / to.length : value > to.low ? 1 : 0;
    let out = Math.round(clamp(fraction, 0, 1) * 255);
    if (sourceInverted) out = 255 - out;
    if (invert) out = 255 - out;
    lut[level] = out;
  }
  return lut;
}

/** The server's rendering of an image: its default display, or a window in modality units. */
export function renderUrl(imageId: string, window: Window | null = null, size = 2048): string {
  const base = `/api/v1/images/${imageId}/render?size=${size}`;
  return window ? `${base}&window_center=${window.center}&window_width=${window.width}` : base;
}

/** A number in modality units, for the readout: integers as they are, others to the step (at least
 * one decimal: a file's default centre of 600.5 is not 601). */
export function formatValue(value: number, step: number): string {
  if (Number.isInteger(value)) return String(value);
  const decimals = Math.max(1, -Math.floor(Math.log10(step)));
  return String(Number(value.toFixed(decimals)));
}
