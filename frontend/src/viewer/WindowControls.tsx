// Window/level in modality units: the modality's presets, the centre and width as numbers (in HU for
// CT, "value" otherwise) kept within the image's value range, and a return to the file's default.
import { useId, useState } from "react";
import { clampModalityWindow, formatValue, presetOf, sameWindow, type ModalityScale } from "./modalityWindow";
import type { Window } from "./windowing";

interface Props {
  scale: ModalityScale;
  window: Window;
  onChange: (window: Window) => void;
}

export function WindowControls({ scale, window, onChange }: Props) {
  const ids = { preset: useId(), center: useId(), width: useId(), range: useId() };
  const { unit, bounds, step, range, defaultWindow } = scale;
  const preset = presetOf(window, scale.presets)?.key ?? "custom";
  const big = Math.max(step, Number(formatValue((range[1] - range[0]) / 64, step)));
  const atDefault = sameWindow(window, defaultWindow);
  const f = (value: number) => formatValue(value, step);
  return (
    <div className="toolbar wl-bar" role="group" aria-label={`Window/level in ${unit === "HU" ? "Hounsfield units" : "modality values"}`} data-unit={unit}>
      <label htmlFor={ids.preset} className="small">
        Preset
      </label>
      <select
        id={ids.preset}
        className="small"
        value={preset}
        data-testid="window-preset"
        onChange={(e) => {
          const chosen = scale.presets.find((p) => p.key === e.target.value);
          if (chosen) onChange(chosen.window);
        }}
      >
        {scale.presets.map((p) => (
          <option key={p.key} value={p.key}>
            {p.label} (C {f(p.window.center)}, W {f(p.window.width)})
          </option>
        ))}
        {preset === "custom" && <option value="custom">Custom</option>}
      </select>
      <label htmlFor={ids.center} className="small">
        Centre <span data-testid="window-unit">({unit})</span>
      </label>
      <WindowNumber
        id={ids.center}
        describedBy={ids.range}
        value={window.center}
        min={bounds.minCenter}
        max={bounds.maxCenter}
        step={step}
        bigStep={big}
        onCommit={(center) => onChange(clampModalityWindow({ ...window, center }, scale))}
      />
      <label htmlFor={ids.width} className="small">
        Width ({unit})
      </label>
      <WindowNumber
        id={ids.width}
        describedBy={ids.range}
        value={window.width}
        min={bounds.minWidth}
        max={bounds.maxWidth}
        step={step}
        bigStep={big}
        onCommit={(width) => onChange(clampModalityWindow({ ...window, width }, scale))}
      />
      <button type="button" className="button small" onClick={() => onChange(defaultWindow)} disabled={atDefault} data-testid="window-default">
        File default
      </button>
      <span className="wl-readout small mono" aria-live="off" data-testid="window-readout">
        W {f(window.width)} / L {f(window.center)} {unit}
      </span>
      <span id={ids.range} className="small muted">
        range {f(range[0])} to {f(range[1])} {unit}
      </span>
    </div>
  );
}

/** A number typed freely and kept when valid; arrows step by `step`, PageUp/PageDown by `bigStep`;
 * Enter or leaving the field keeps the nearest allowed value. */
function WindowNumber(props: {
  id: string;
  describedBy: string;
  value: number;
  min: number;
  max: number;
  step: number;
  bigStep: number;
  onCommit: (value: number) => void;
}) {
  const { id, describedBy, value, min, max, step, bigStep, onCommit } = props;
  const [draft, setDraft] = useState<string | null>(null);
  const settle = () => {
    if (draft !== null && draft.trim() !== "" && Number.isFinite(Number(draft))) onCommit(Math.min(max, Math.max(min, Number(draft))));
    setDraft(null);
  };
  return (
    <input
      id={id}
      type="number"
      className="small wl-number"
      inputMode="decimal"
      min={min}
      max={max}
      step={step}
      aria-describedby={describedBy}
      value={draft ?? formatValue(value, step)}
      onChange={(e) => {
        const text = e.target.value;
        setDraft(text);
        const number = Number(text);
        if (text.trim() !== "" && Number.isFinite(number) && number >= min && number <= max) onCommit(number);
      }}
      onBlur={settle}
      onKeyDown={(e) => {
        if (e.key === "Enter") settle();
        else if (e.key === "PageUp" || e.key === "PageDown") {
          e.preventDefault();
          setDraft(null);
          onCommit(Math.min(max, Math.max(min, value + (e.key === "PageUp" ? bigStep : -bigStep))));
        }
      }}
    />
  );
}
