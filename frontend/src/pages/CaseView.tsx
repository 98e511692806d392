// One case: the image in the viewer, the AI's answer (with the version that gave it, how it was routed
// and the decision threshold in force), the verdict buttons and the verdict history.
// Next/previous follow the worklist the case was opened from (its filters are in the URL).
import { useCallback, useEffect, useId, useMemo, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Prediction } from "../api/client";
import { keys, useImageRecord, usePrediction, useQueue, useTasks, useVerdicts } from "../api/queries";
import { AutonomyBadge, FinalityBadges, RoutingBadge, ThresholdText } from "../components/Badges";
import { useShortcuts } from "../components/shortcuts";
import { ErrorState, formatDate, Loading, Percent } from "../components/States";
import { ImageViewer, type Tool } from "../viewer/ImageViewer";
import { DEFAULT_WINDOW, PRESETS, type Window } from "../viewer/windowing";
import { ShortcutHelp } from "./ShortcutHelp";
import { VerdictPanel } from "./VerdictPanel";
import { filtersFrom } from "./worklistParams";

/** The reading queue: the worklist's order (by priority, from GET /worklist) when the case was last in
 * it, so that the next case is still found after this one leaves the list (a verdict takes it out of
 * "waiting for review", and may reorder the rest: the disagreement risk moves with each verdict). */
function useReadingQueue(currentId: string, search: URLSearchParams) {
  const filters = filtersFrom(search);
  const filtersKey = JSON.stringify(filters);
  const list = useQueue(filters);
  const [snapshot, setSnapshot] = useState<{ key: string; ids: string[] }>({ key: "", ids: [] });
  const fresh = useMemo(() => list.data?.rows.map((row) => row.prediction.id) ?? [], [list.data]);
  useEffect(() => {
    if (fresh.includes(currentId)) setSnapshot({ key: filtersKey, ids: fresh });
  }, [fresh, currentId, filtersKey]);
  const ids = snapshot.key === filtersKey ? snapshot.ids : fresh;
  const index = ids.indexOf(currentId);
  // Cases of the snapshot after (before) this one that are still in the list.
  const live = (id: string) => id !== currentId && (!list.data || fresh.includes(id));
  const after = (index >= 0 ? ids.slice(index + 1) : fresh).filter(live);
  const before = (index >= 0 ? ids.slice(0, index).reverse() : []).filter(live);
  const freshIndex = fresh.indexOf(currentId);
  return {
    next: after[0] ?? null,
    previous: before[0] ?? null,
    label: !list.data
      ? ""
      : freshIndex >= 0
        ? `Case ${freshIndex + 1 + (filters.offset ?? 0)} of ${list.data.total} in the worklist`
        : after.length > 0
          ? `${after.length} more ${after.length === 1 ? "case" : "cases"} in the worklist`
          : "Not in the current worklist",
  };
}

/** Loads the next case's record and image while this one is read, so that moving on is instant. */
function usePrefetchCase(id: string | null) {
  const queryClient = useQueryClient();
  useEffect(() => {
    if (!id) return;
    void queryClient
      .prefetchQuery({
        queryKey: keys.prediction(id),
        queryFn: () => unwrap(api.GET("/api/v1/predictions/{prediction_id}", { params: { path: { prediction_id: id } } })),
      })
      .then(() => {
        const next = queryClient.getQueryData<Prediction>(keys.prediction(id));
        if (!next) return;
        new Image().src = renderUrl(next.image_id);
        // The heatmap is computed on first request: ask for it now if the reader keeps it on.
        if (localStorage.getItem("imaging-ai.heatmap") === "true") new Image().src = heatmapUrl(next.id, null);
      });
  }, [id, queryClient]);
}

export function renderUrl(imageId: string): string {
  return `/api/v1/images/${imageId}/render?size=2048`;
}

/** The Grad-CAM overlay; for the predicted label unless another is named. */
export function heatmapUrl(predictionId: string, label: string | null): string {
  const base = `/api/v1/predictions/${predictionId}/heatmap`;
  return label ? `${base}?label=${encodeURIComponent(label)}` : base;
}

export function CaseView() {
  const { predictionId = "" } = useParams();
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const prediction = usePrediction(predictionId);
  const tasks = useTasks();
  const queue = useReadingQueue(predictionId, search);
  const [helpOpen, setHelpOpen] = useState(false);
  const [advance, setAdvance] = useState(() => localStorage.getItem("imaging-ai.advance") !== "false");
  // The case a verdict was just given on, and the case reading moved on to from it.
  const [saved, setSaved] = useState<{ on: string; next: string | null } | null>(null);

  const go = useCallback(
    (id: string | null) => {
      if (id) navigate(`/cases/${id}${search.toString() ? `?${search}` : ""}`);
    },
    [navigate, search],
  );

  usePrefetchCase(queue.next);
  useEffect(() => {
    // A note about a verdict belongs to the case it was given on and the one reading moved on to.
    setSaved((current) => (current && current.on !== predictionId && current.next !== predictionId ? null : current));
  }, [predictionId]);

  const worklistLink = `/worklist${search.toString() ? `?${search}` : ""}`;
  const labels = tasks.data?.find((task) => task.name === prediction.data?.task)?.labels ?? Object.keys(prediction.data?.probabilities ?? {});

  useShortcuts((key) => {
    if (key === "?") {
      setHelpOpen((open) => !open);
      return true;
    }
    if (key === "j" || key === "J" || key === "ArrowRight") {
      go(queue.next);
      return true;
    }
    if (key === "k" || key === "K" || key === "ArrowLeft") {
      go(queue.previous);
      return true;
    }
    return false;
  }, !helpOpen);

  if (prediction.isPending) return <Loading what="the case" />;
  if (prediction.isError) return <ErrorState error={prediction.error} what="the case" onRetry={() => void prediction.refetch()} />;

  return (
    <div className="case" data-case-id={prediction.data.id}>
      <nav className="case-nav" aria-label="Reading">
        <Link to={worklistLink} className="button small">
          ← Worklist
        </Link>
        <button type="button" className="button small" onClick={() => go(queue.previous)} disabled={!queue.previous}>
          Previous <kbd>K</kbd>
        </button>
        <button type="button" className="button small" onClick={() => go(queue.next)} disabled={!queue.next} data-testid="next-case">
          Next <kbd>J</kbd>
        </button>
        <span className="muted small" aria-live="polite">
          {queue.label}
        </span>
        <label className="check small">
          <input
            type="checkbox"
            checked={advance}
            onChange={(e) => {
              setAdvance(e.target.checked);
              localStorage.setItem("imaging-ai.advance", String(e.target.checked));
            }}
          />
          Go to the next case after a verdict
        </label>
        <button type="button" className="button small" onClick={() => setHelpOpen(true)} aria-haspopup="dialog">
          Shortcuts <kbd>?</kbd>
        </button>
      </nav>
      <div className="case-body">
        <CaseViewer key={prediction.data.id} prediction={prediction.data} labels={labels} shortcutsEnabled={!helpOpen} />
        <aside className="case-side" aria-label="Case details">
          <AiAnswer prediction={prediction.data} labels={labels} />
          <VerdictPanel
            key={prediction.data.id}
            prediction={prediction.data}
            labels={labels}
            shortcutsEnabled={!helpOpen}
            onDone={() => {
              const next = advance ? queue.next : null;
              setSaved({ on: prediction.data.id, next });
              if (next) go(next);
            }}
          />
          {saved?.next === prediction.data.id && (
            <p className="muted small" role="status">
              Verdict saved on the previous case.
            </p>
          )}
          {!queue.next && saved?.on === prediction.data.id && (
            <p className="ok small" role="status">
              No more cases in this worklist. <Link to={worklistLink}>Back to the worklist</Link>
            </p>
          )}
          <VerdictHistoryPanel predictionId={prediction.data.id} />
        </aside>
      </div>
      {helpOpen && <ShortcutHelp labels={labels} onClose={() => setHelpOpen(false)} />}
    </div>
  );
}

function CaseViewer({ prediction, labels, shortcutsEnabled }: { prediction: Prediction; labels: string[]; shortcutsEnabled: boolean }) {
  // Whose evidence the heatmap shows: the AI's label by default, or another label's.
  const [heatmapLabel, setHeatmapLabel] = useState(prediction.predicted_label);
  const [window, setWindow] = useState<Window>(DEFAULT_WINDOW);
  const [invert, setInvert] = useState(false);
  const [showHeatmap, setShowHeatmap] = useState(() => localStorage.getItem("imaging-ai.heatmap") === "true");
  const [opacity, setOpacity] = useState(() => Number(localStorage.getItem("imaging-ai.opacity") ?? 0.6));
  const [tool, setTool] = useState<Tool>("window");
  const [resetKey, setResetKey] = useState(0);
  const [zoom, setZoom] = useState<{ factor: number; seq: number }>({ factor: 1, seq: 0 });
  const image = useImageRecord(prediction.image_id);
  const ids = { preset: useId(), opacity: useId(), heatmapLabel: useId() };

  useEffect(() => localStorage.setItem("imaging-ai.heatmap", String(showHeatmap)), [showHeatmap]);
  useEffect(() => localStorage.setItem("imaging-ai.opacity", String(opacity)), [opacity]);

  const reset = () => {
    setWindow(DEFAULT_WINDOW);
    setInvert(false);
    setResetKey((k) => k + 1);
  };

  useShortcuts((key) => {
    switch (key.toLowerCase()) {
      case "h":
        setShowHeatmap((v) => !v);
        return true;
      case "i":
        setInvert((v) => !v);
        return true;
      case "r":
        reset();
        return true;
      case "p":
        setTool((t) => (t === "pan" ? "window" : "pan"));
        return true;
      case "w":
        setTool("window");
        return true;
      case "+":
      case "=":
        setZoom((z) => ({ factor: 1.25, seq: z.seq + 1 }));
        return true;
      case "-":
        setZoom((z) => ({ factor: 0.8, seq: z.seq + 1 }));
        return true;
      default:
        return false;
    }
  }, shortcutsEnabled);

  const preset = PRESETS.find((p) => p.window.width === window.width && p.window.center === window.center)?.key ?? "custom";
  const info = image.data;
  return (
    <section className="case-image" aria-label="Image">
      <div className="toolbar" role="toolbar" aria-label="Viewer tools">
        <div className="segmented" role="group" aria-label="Drag tool">
          <button type="button" className="button small" aria-pressed={tool === "window"} onClick={() => setTool("window")}>
            Window/level <kbd>W</kbd>
          </button>
          <button type="button" className="button small" aria-pressed={tool === "pan"} onClick={() => setTool("pan")}>
            Pan <kbd>P</kbd>
          </button>
        </div>
        <label htmlFor={ids.preset} className="small">
          Preset
        </label>
        <select
          id={ids.preset}
          className="small"
          value={preset}
          onChange={(e) => {
            const chosen = PRESETS.find((p) => p.key === e.target.value);
            if (chosen) setWindow(chosen.window);
          }}
        >
          {PRESETS.map((p) => (
            <option key={p.key} value={p.key}>
              {p.label}
            </option>
          ))}
          {preset === "custom" && <option value="custom">Custom</option>}
        </select>
        <span className="wl-readout small mono" aria-live="off">
          W {Math.round(window.width)} / L {Math.round(window.center)}
        </span>
        <span className="gap" aria-hidden="true" />
        <button type="button" className="button small" aria-pressed={invert} onClick={() => setInvert((v) => !v)}>
          Invert <kbd>I</kbd>
        </button>
        <button type="button" className="button small" aria-pressed={showHeatmap} onClick={() => setShowHeatmap((v) => !v)} data-testid="heatmap-toggle">
          Heatmap <kbd>H</kbd>
        </button>
        <label htmlFor={ids.heatmapLabel} className="visually-hidden">
          Heatmap of the evidence for
        </label>
        <select
          id={ids.heatmapLabel}
          className="small"
          value={heatmapLabel}
          onChange={(e) => setHeatmapLabel(e.target.value)}
          disabled={!showHeatmap}
        >
          {labels.map((label) => (
            <option key={label} value={label}>
              for {label}
              {label === prediction.predicted_label ? " (AI)" : ""}
            </option>
          ))}
        </select>
        <label htmlFor={ids.opacity} className="small">
          Opacity
        </label>
        <input
          id={ids.opacity}
          type="range"
          min={0}
          max={1}
          step={0.05}
          value={opacity}
          onChange={(e) => setOpacity(Number(e.target.value))}
          disabled={!showHeatmap}
        />
        <button type="button" className="button small" onClick={reset}>
          Reset <kbd>R</kbd>
        </button>
      </div>
      <ImageViewer
        imageUrl={renderUrl(prediction.image_id)}
        heatmapUrl={heatmapUrl(prediction.id, heatmapLabel === prediction.predicted_label ? null : heatmapLabel)}
        showHeatmap={showHeatmap}
        heatmapOpacity={opacity}
        invert={invert}
        window={window}
        onWindowChange={setWindow}
        tool={tool}
        resetKey={resetKey}
        zoomRequest={zoom}
        label={`Image of case ${prediction.id}${info ? `, ${info.cols}×${info.rows} ${info.format}` : ""}. Drag to change window and level, wheel to zoom.`}
      />
      <p className="viewer-hint small muted">
        Drag: window/level · Shift/Ctrl-drag or middle button: pan · Wheel: zoom
        {info && (
          <>
            {" "}
            · {info.cols}×{info.rows} {info.format.toUpperCase()}
            {info.modality ? ` ${info.modality}` : ""}
            {showHeatmap
              ? ` · heatmap: Grad-CAM evidence for ${heatmapLabel}${heatmapLabel === prediction.predicted_label ? " (the AI's label)" : ""}`
              : ""}
          </>
        )}
      </p>
    </section>
  );
}

/** The AI's answer: probability per label, confidence, the level, version and threshold it answered under. */
export function AiAnswer({ prediction, labels }: { prediction: Prediction; labels: string[] }) {
  const ordered = useMemo(() => {
    const known = labels.filter((label) => label in prediction.probabilities);
    const rest = Object.keys(prediction.probabilities).filter((label) => !known.includes(label));
    return [...known, ...rest];
  }, [labels, prediction.probabilities]);
  return (
    <section className="panel" aria-labelledby="ai-title">
      <h2 id="ai-title">AI answer</h2>
      <p className="ai-label">
        <span className={`label-chip big label-${prediction.predicted_label}`} data-testid="predicted-label">
          {prediction.predicted_label}
        </span>
        <span className={`status status-${prediction.status}`}>{prediction.status.replace("_", " ")}</span>
        <FinalityBadges prediction={prediction} />
      </p>
      <table className="probabilities">
        <caption className="visually-hidden">Probability per label</caption>
        <tbody>
          {ordered.map((label, index) => {
            const p = prediction.probabilities[label] ?? 0;
            return (
              <tr key={label}>
                <th scope="row">
                  <kbd>{index + 1}</kbd> {label}
                </th>
                <td className="bar-cell">
                  <span className="bar" style={{ width: `${Math.round(p * 100)}%` }} aria-hidden="true" />
                </td>
                <td className="num">
                  <Percent value={p} />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <dl className="facts">
        <dt>Confidence</dt>
        <dd>
          <Percent value={prediction.confidence} />
        </dd>
        <dt>Uncertainty</dt>
        <dd title="Normalised entropy: 0 certain, 1 uninformative">
          {prediction.uncertainty.toFixed(2)} {prediction.uncertainty > 0.6 && <span className="warn">high</span>}
        </dd>
        <dt>Autonomy</dt>
        <dd data-testid="autonomy-level" title="The level in force at this site when the AI answered">
          <AutonomyBadge level={prediction.autonomy_level} />
        </dd>
        <dt>Model</dt>
        <dd data-testid="model-version">
          <span className="mono">{prediction.model_version}</span> <RoutingBadge routing={prediction.routing} />
        </dd>
        <dt>Decision</dt>
        <dd data-testid="decision-threshold">
          {prediction.decision_threshold === null || prediction.operating_point === "argmax" ? "" : "threshold "}
          <ThresholdText threshold={prediction.decision_threshold} source={prediction.operating_point} />
        </dd>
        <dt>Site</dt>
        <dd>{prediction.site ?? "–"}</dd>
        <dt>Received</dt>
        <dd>{formatDate(prediction.created_at)}</dd>
        {prediction.accession_number && (
          <>
            <dt>Accession</dt>
            <dd>{prediction.accession_number}</dd>
          </>
        )}
      </dl>
    </section>
  );
}

function VerdictHistoryPanel({ predictionId }: { predictionId: string }) {
  const history = useVerdicts(predictionId);
  return (
    <section className="panel" aria-labelledby="history-title">
      <h2 id="history-title">Verdict history</h2>
      {history.isPending ? (
        <Loading what="the history" />
      ) : history.isError ? (
        <ErrorState error={history.error} what="the history" onRetry={() => void history.refetch()} />
      ) : history.data.verdicts.length === 0 ? (
        <p className="muted">No verdict yet.</p>
      ) : (
        <>
          <p>
            Label of record: <strong data-testid="label-of-record">{history.data.label_of_record ?? "none (unreadable)"}</strong>
          </p>
          <ol className="history" reversed data-testid="verdict-history">
            {[...history.data.verdicts].reverse().map((verdict) => (
              <li key={verdict.id}>
                <span className={`verdict-name verdict-${verdict.verdict}`}>
                  {verdict.verdict === "disagree" ? `corrected to ${verdict.label}` : verdict.verdict}
                </span>{" "}
                by {verdict.reviewer} <span className="muted small">{formatDate(verdict.created_at)}</span>
                {verdict.notes && <p className="note">{verdict.notes}</p>}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
