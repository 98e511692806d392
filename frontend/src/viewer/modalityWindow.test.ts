// Window/level in modality units: the presets per modality, the unit, the bounds from the value
// range, dragging, the table that re-windows a render until the next one arrives, and the render URL.
import { describe, expect, it } from "vitest";
import {
  clampModalityWindow,
  dragModalityWindow,
  fullRangeWindow,
  modalityLut,
  modalityScale,
  presetOf,
  renderUrl,
  stepFor,
  unitFor,
} from "./modalityWindow";

const ct = { modality: "CT", format: "dicom", photometric_interpretation: "MONOCHROME2", value_range: [-1024, 3071], default_window: { center: 40, width: 80 } };
const png = { modality: null, format: "png", value_range: [0, 255], default_window: { center: 128, width: 256 } };

describe("modality scale", () => {
  it("is null for records without a value range (stored earlier): the display-unit window stays", () => {
    expect(modalityScale({ modality: "CT", format: "dicom" })).toBeNull();
    expect(modalityScale({ modality: "CT", format: "dicom", value_range: null })).toBeNull();
    expect(modalityScale(undefined)).toBeNull();
  });

  it("gives CT its presets in HU, after the file default, and the full range last", () => {
    const scale = modalityScale(ct)!;
    expect(scale.unit).toBe("HU");
    expect(scale.defaultWindow).toEqual({ center: 40, width: 80 });
    expect(scale.presets.map((p) => [p.key, p.window.center, p.window.width])).toEqual([
      ["default", 40, 80],
      ["lung", -600, 1500],
      ["mediastinum", 40, 400],
      ["bone", 400, 1800],
      ["brain", 40, 80],
      ["full", 1024, 4096],
    ]);
    // The file default and the brain preset are the same window: the default is named first.
    expect(presetOf({ center: 40, width: 80 }, scale.presets)?.key).toBe("default");
  });

  it("gives MR, CR, DX and PNG/JPEG the file default and the full range, in 'value'", () => {
    for (const modality of ["MR", "CR", "DX", null]) {
      const scale = modalityScale({ ...png, modality, value_range: [0, 4095], default_window: { center: 1800, width: 2600 } })!;
      expect(scale.unit).toBe("value");
      expect(scale.presets.map((p) => p.key)).toEqual(["default", "full"]);
      expect(scale.presets[1]!.window).toEqual({ center: 2048, width: 4096 });
    }
    expect(modalityScale(png)!.presets[1]!.window).toEqual({ center: 128, width: 256 });
    expect(unitFor("ct")).toBe("HU");
    expect(unitFor("MR")).toBe("value");
  });

  it("falls back to the full range when the record has no default window", () => {
    expect(modalityScale({ ...ct, default_window: null })!.defaultWindow).toEqual(fullRangeWindow([-1024, 3071]));
  });

  it("bounds centre and width by the value range, widened only to take the presets", () => {
    const scale = modalityScale({ ...ct, value_range: [-1000, 200] })!;
    expect(scale.bounds).toEqual({ minCenter: -1000, maxCenter: 400, minWidth: 1, maxWidth: 1800 });
    expect(clampModalityWindow({ center: -5000, width: 99_999 }, scale)).toEqual({ center: -1000, width: 1800 });
    expect(clampModalityWindow({ center: 12.4, width: 0.2 }, scale)).toEqual({ center: 12, width: 1 });
  });

  it("uses a finer step for small float ranges", () => {
    expect(stepFor(4095)).toBe(1);
    expect(stepFor(5)).toBe(0.001);
    const scale = modalityScale({ modality: "PT", format: "dicom", value_range: [0, 5], default_window: { center: 2.5, width: 5 } })!;
    expect(clampModalityWindow({ center: 1.23456, width: 0.5 }, scale)).toEqual({ center: 1.235, width: 0.5 });
  });

  it("drags in modality units: right widens, down raises the level, within the bounds", () => {
    const scale = modalityScale(ct)!;
    // 4095 HU over 512 px: 8 HU a pixel.
    expect(dragModalityWindow({ center: 40, width: 400 }, 10, -5, scale)).toEqual({ center: 0, width: 480 });
    expect(dragModalityWindow({ center: 40, width: 400 }, -1000, 0, scale).width).toBe(1);
    expect(dragModalityWindow({ center: 40, width: 400 }, 0, 10_000, scale).center).toBe(3071);
  });
});

describe("re-windowing a render", () => {
  it("is the identity from a window to itself", () => {
    const lut = modalityLut({ center: -600, width: 1500 }, { center: -600, width: 1500 });
    for (let v = 0; v < 256; v += 1) expect(Math.abs(lut[v]! - v)).toBeLessThanOrEqual(1);
  });

  it("maps the rendered levels through the new window (LINEAR, as the server renders it)", () => {
    // Rendered at the full 8-bit range (C 128, W 256): level v is value v. Windowed to C 100.5, W 101:
    // the ramp runs 50..150.
    const lut = modalityLut({ center: 128, width: 256 }, { center: 100.5, width: 101 });
    expect(lut[0]).toBe(0);
    expect(lut[50]).toBe(0);
    expect(lut[100]).toBe(128);
    expect(lut[150]).toBe(255);
    expect(lut[255]).toBe(255);
  });

  it("keeps a MONOCHROME1 render inverted, and inverts on request", () => {
    const straight = modalityLut({ center: 128, width: 256 }, { center: 100.5, width: 101 });
    const mono1 = modalityLut({ center: 128, width: 256 }, { center: 100.5, width: 101 }, true);
    // Level 255 - v of an inverted render is value v, shown inverted.
    expect(mono1[255 - 100]).toBe(255 - straight[100]!);
    expect(modalityLut({ center: 128, width: 256 }, { center: 128, width: 256 }, false, true)[0]).toBe(255);
  });
});

describe("render URL", () => {
  it("asks the server for the window in modality units", () => {
    expect(renderUrl("abc", { center: -600, width: 1500 })).toBe("/api/v1/images/abc/render?size=2048&window_center=-600&window_width=1500");
    expect(renderUrl("abc")).toBe("/api/v1/images/abc/render?size=2048");
  });
});
