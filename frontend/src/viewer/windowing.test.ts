import { describe, expect, it } from "vitest";
import {
  applyWindow,
  applyWindowToPixels,
  DEFAULT_WINDOW,
  dragToWindow,
  fitView,
  MAX_WIDTH,
  MIN_WIDTH,
  windowLut,
  zoomAt,
} from "./windowing";

describe("applyWindow", () => {
  it("is the identity for the default window", () => {
    for (const value of [0, 1, 64, 127, 128, 200, 255]) {
      expect(applyWindow(value, DEFAULT_WINDOW)).toBe(value);
    }
  });

  it("maps the window's lower edge to black, upper edge to white and the centre to mid-grey", () => {
    const window = { width: 100, center: 100 };
    expect(applyWindow(50, window)).toBe(0);
    expect(applyWindow(150, window)).toBe(255);
    expect(applyWindow(100, window)).toBe(128);
  });

  it("clips values outside the window", () => {
    const window = { width: 20, center: 100 };
    expect(applyWindow(0, window)).toBe(0);
    expect(applyWindow(89, window)).toBe(0);
    expect(applyWindow(111, window)).toBe(255);
    expect(applyWindow(255, window)).toBe(255);
  });

  it("inverts after windowing", () => {
    const window = { width: 100, center: 100 };
    expect(applyWindow(50, window, true)).toBe(255);
    expect(applyWindow(150, window, true)).toBe(0);
    expect(applyWindow(75, window, true)).toBe(255 - applyWindow(75, window));
  });

  it("never divides by a zero width", () => {
    expect(applyWindow(100, { width: 0, center: 100 })).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(applyWindow(100, { width: -5, center: 100 }))).toBe(true);
  });

  it("is monotonic: a brighter input is never darker", () => {
    const lut = windowLut({ width: 60, center: 90 });
    for (let value = 1; value < 256; value += 1) expect(lut[value]!).toBeGreaterThanOrEqual(lut[value - 1]!);
  });
});

describe("dragToWindow", () => {
  const start = { width: 200, center: 120 };

  it("widens the window when dragging right and narrows it when dragging left", () => {
    expect(dragToWindow(start, 30, 0)).toEqual({ width: 230, center: 120 });
    expect(dragToWindow(start, -50, 0)).toEqual({ width: 150, center: 120 });
  });

  it("raises the level when dragging down and lowers it when dragging up", () => {
    expect(dragToWindow(start, 0, 25)).toEqual({ width: 200, center: 145 });
    expect(dragToWindow(start, 0, -40)).toEqual({ width: 200, center: 80 });
  });

  it("scales with the sensitivity", () => {
    expect(dragToWindow(start, 10, 10, 2)).toEqual({ width: 220, center: 140 });
  });

  it("keeps the width within bounds", () => {
    expect(dragToWindow(start, -1000, 0).width).toBe(MIN_WIDTH);
    expect(dragToWindow(start, 5000, 0).width).toBe(MAX_WIDTH);
  });

  it("is relative to where the drag started, not cumulative", () => {
    const once = dragToWindow(start, 40, 10);
    expect(dragToWindow(start, 40, 10)).toEqual(once);
  });
});

describe("applyWindowToPixels", () => {
  it("windows the grey value of RGBA pixels and keeps alpha", () => {
    const source = new Uint8ClampedArray([50, 50, 50, 255, 100, 100, 100, 128, 150, 150, 150, 0]);
    const out = new Uint8ClampedArray(source.length);
    applyWindowToPixels(source, out, { width: 100, center: 100 });
    expect(Array.from(out)).toEqual([0, 0, 0, 255, 128, 128, 128, 128, 255, 255, 255, 0]);
  });

  it("inverts in place", () => {
    const pixels = new Uint8ClampedArray([0, 0, 0, 255, 255, 255, 255, 255]);
    applyWindowToPixels(pixels, pixels, DEFAULT_WINDOW, true);
    expect(Array.from(pixels)).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
  });
});

describe("zoom and fit", () => {
  it("fits and centres the image", () => {
    const view = fitView(200, 100, 1000, 1000);
    expect(view.scale).toBeCloseTo(4.8);
    expect(view.x + (200 * view.scale) / 2).toBeCloseTo(500);
    expect(view.y + (100 * view.scale) / 2).toBeCloseTo(500);
  });

  it("keeps the point under the cursor in place while zooming", () => {
    const view = { scale: 2, x: 10, y: 20 };
    const zoomed = zoomAt(view, 1.5, 110, 220);
    // The image point under (110, 220) before: ((110-10)/2, (220-20)/2) = (50, 100).
    expect((110 - zoomed.x) / zoomed.scale).toBeCloseTo(50);
    expect((220 - zoomed.y) / zoomed.scale).toBeCloseTo(100);
    expect(zoomed.scale).toBeCloseTo(3);
  });
});
