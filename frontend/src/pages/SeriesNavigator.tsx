// The slices of a case's DICOM series: previous/next, a slider and the keys (↑/↓, PageUp/PageDown
// anywhere; ←/→ too on the slider), "Slice 3 of 12", the slice's own prediction, and the series-level
// answer with the rule that made it. Shown only for a series of more than one instance.
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import type { Prediction } from "../api/client";
import { useSeries, type Series, type SeriesAnswer, type SeriesInstance } from "../api/series";
import { isTypingTarget } from "../components/shortcuts";
import { Percent } from "../components/States";

export interface SeriesSlices {
  /** A series of more than one instance, with the case's own image in it. */
  navigable: boolean;
  series: Series | null;
  instances: SeriesInstance[];
  index: number;
  total: number;
  /** The instance of the case's own image. */
  ownIndex: number;
  /** The series-level answer for the case's task. */
  answer: SeriesAnswer | null;
  current: SeriesInstance | null;
  go: (index: number) => void;
}

/** The series the case's image belongs to, and which of its slices is on screen. */
export function useSeriesSlices(info: { series_instance_uid?: string | null } | undefined, prediction: Prediction): SeriesSlices {
  const uid = info?.series_instance_uid ?? null;
  const series = useSeries(uid);
  const instances = useMemo(() => series.data?.instances ?? [], [series.data]);
  const ownIndex = instances.findIndex((instance) => instance.image_id === prediction.image_id);
  const [chosen, setChosen] = useState<number | null>(null);
  const navigable = instances.length > 1 && ownIndex >= 0;
  const index = navigable ? Math.min(instances.length - 1, Math.max(0, chosen ?? ownIndex)) : -1;
  return {
    navigable,
    series: series.data ?? null,
    instances,
    index,
    total: instances.length,
    ownIndex,
    answer: series.data?.answers.find((answer) => answer.task === prediction.task) ?? null,
    current: navigable ? instances[index]! : null,
    go: (next: number) => {
      if (navigable) setChosen(Math.min(instances.length - 1, Math.max(0, next)));
    },
  };
}

const SLICE_KEYS: Record<string, number> = { ArrowUp: -1, PageUp: -1, ArrowDown: 1, PageDown: 1 };

export function SeriesNavigator({ series, caseHidden, shortcutsEnabled }: { series: SeriesSlices; caseHidden: boolean; shortcutsEnabled: boolean }) {
  const [search] = useSearchParams();
  const sliderId = useId();
  const { index, total, current, go, ownIndex } = series;
  // ↑/↓ and PageUp/PageDown step through the slices (held down, they scroll); not while typing.
  const latest = useRef({ index, go });
  latest.current = { index, go };
  useEffect(() => {
    if (!shortcutsEnabled) return;
    const onKey = (event: KeyboardEvent) => {
      const delta = SLICE_KEYS[event.key];
      if (delta === undefined || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
      // A focused slider (the heatmap's opacity) keeps its own arrows.
      if (isTypingTarget(event.target) || (event.target instanceof HTMLInputElement && event.target.type === "range")) return;
      event.preventDefault();
      latest.current.go(latest.current.index + delta);
    };
    globalThis.addEventListener("keydown", onKey);
    return () => globalThis.removeEventListener("keydown", onKey);
  }, [shortcutsEnabled]);

  if (!current) return null;
  const slicePrediction = current.prediction;
  const onOwn = index === ownIndex;
  const answer = series.answer;
  const decidingIndex = answer?.deciding_image_id ? series.instances.findIndex((instance) => instance.image_id === answer.deciding_image_id) : -1;
  const number = current.instance_number;
  return (
    <div className="series-nav" role="group" aria-label="Series slices" data-testid="series-navigator">
      <div className="series-row">
        <button type="button" className="button small" onClick={() => go(index - 1)} disabled={index <= 0} aria-label="Previous slice">
          ▲ Previous <kbd>↑</kbd>
        </button>
        <label htmlFor={sliderId} className="visually-hidden">
          Slice
        </label>
        <input
          id={sliderId}
          type="range"
          className="series-slider"
          min={1}
          max={total}
          step={1}
          value={index + 1}
          aria-valuetext={`Slice ${index + 1} of ${total}`}
          onChange={(e) => go(Number(e.target.value) - 1)}
          onKeyDown={(e) => {
            // The slider's own keys move the slice only, never the case (←/→ are the case's keys elsewhere).
            const step: Record<string, number> = { ArrowLeft: -1, ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, PageUp: -1, PageDown: 1 };
            if (e.key === "Home" || e.key === "End") {
              e.preventDefault();
              go(e.key === "Home" ? 0 : total - 1);
            } else if (step[e.key] !== undefined) {
              e.preventDefault();
              go(index + step[e.key]!);
            }
          }}
        />
        <button type="button" className="button small" onClick={() => go(index + 1)} disabled={index >= total - 1} aria-label="Next slice">
          ▼ Next <kbd>↓</kbd>
        </button>
        <span className="series-position" aria-live="polite" data-testid="slice-position">
          Slice {index + 1} of {total}
        </span>
        {number !== null && number !== undefined && <span className="small muted">instance {number}</span>}
        {onOwn ? (
          <span className="badge" title="The image this case's prediction was made on">
            this case&apos;s slice
          </span>
        ) : (
          <button type="button" className="link small" onClick={() => go(ownIndex)}>
            Back to this case&apos;s slice ({ownIndex + 1})
          </button>
        )}
      </div>
      <div className="series-row small" data-testid="slice-prediction">
        <span className="muted">This slice:</span>{" "}
        {caseHidden || slicePrediction?.answer_hidden ? (
          <span>AI answer hidden (blind read)</span>
        ) : !slicePrediction || slicePrediction.predicted_label === null ? (
          <span className="muted">no prediction</span>
        ) : (
          <>
            <span className={`label-chip label-${slicePrediction.predicted_label}`}>{slicePrediction.predicted_label}</span>{" "}
            <Percent value={slicePrediction.confidence} />
          </>
        )}
        {slicePrediction && !onOwn && (
          <>
            {" "}
            <Link to={`/cases/${slicePrediction.id}${search.toString() ? `?${search}` : ""}`}>Open its case</Link>
          </>
        )}
      </div>
      {answer && (
        <div className="series-row small" data-testid="series-answer">
          <span className="muted">Series ({answer.slices} {answer.slices === 1 ? "slice" : "slices"} answered):</span>{" "}
          {caseHidden || answer.answer_hidden ? (
            <span>answer hidden until every slice&apos;s blind read is in</span>
          ) : answer.label === null ? (
            <span className="muted">no answer</span>
          ) : (
            <>
              <span className={`label-chip label-${answer.label}`}>{answer.label}</span>
              {answer.probability !== null && (
                <span title="The highest probability over the slices">
                  {" "}
                  max <Percent value={answer.probability} />
                </span>
              )}
              {answer.decision_threshold !== null && <span className="muted"> at threshold {answer.decision_threshold}</span>}
              {decidingIndex >= 0 && (
                <>
                  {" "}
                  <button type="button" className="link small" onClick={() => go(decidingIndex)}>
                    from slice {decidingIndex + 1}
                    {answer.deciding_instance_number !== null ? ` (instance ${answer.deciding_instance_number})` : ""}
                  </button>
                </>
              )}
            </>
          )}
          <p className="muted series-rule" data-testid="series-rule">
            Rule: {answer.rule}
          </p>
        </div>
      )}
    </div>
  );
}
