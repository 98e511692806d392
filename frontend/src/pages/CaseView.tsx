// One case: the image in the viewer, the AI's answer (with the version that gave it, how it was routed
// and the decision threshold in force), the verdict buttons and the verdict history.
// Next/previous follow the worklist the case was opened from (its filters are in the URL), or the
// learning queue when it was opened from "Teach the model" (`from=learn`, with its task and site).
// A blind read (`answer_hidden`) shows the image only: no label, probabilities, confidence or heatmap
// (not even requested) until the clinician's own label is in; then the answer is revealed in place,
// with whether the read matched it.
import { useCallback, useEffect, useId, useMemo, useRef, useState, type ReactNode } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api, unwrap, type Prediction } from "../api/client";
import { keys, useImageRecord, useLearningQueue, usePrediction, useQueue, useTasks, useVerdicts } from "../api/queries";
import { AutonomyBadge, BlindReadBadge, FinalityBadges, OutOfDistributionBadge, RoutingBadge, ThresholdText } from "../components/Badges";
import { useShortcuts } from "../components/shortcuts";
import { ErrorState, formatDate, Loading, Percent } from "../components/States";
import { ImageViewer, type Tool } from "../viewer/ImageViewer";
import { dragModalityWindow, modalityScale, renderUrl, sameWindow } from "../viewer/modalityWindow";
import { WindowControls } from "../viewer/WindowControls";
import { DEFAULT_WINDOW, PRESETS, type Window } from "../viewer/windowing";
import { SeriesNavigator, useSeriesSlices } from "./SeriesNavigator";
import { ShortcutHelp } from "./ShortcutHelp";
import { VerdictPanel } from "./VerdictPanel";
import { isFromLearn, learnFiltersFrom, learnListLink } from "./learnParams";
import { filtersFrom } from "./worklistParams";

/** How many of the learning queue's first entries the case view follows (the list page shows 20 a page). */
const LEARNING_QUEUE_SPAN = 50;

/** The reading queue: the worklist's order (by priority, from GET /worklist) when the case was last in
 * it, so that the next case is still found after this one leaves the list (a verdict takes it out of
 * "waiting for review", and may reorder the rest: the disagreement risk moves with each verdict).
 * Opened from "Teach the model" (`from=learn`), the learning queue's order instead (GET /learning-queue,
 * same task and site; the case's own task when the address names none): the server re-ranks it after
 * each verdict, so once this case has left it, the next case is the refreshed queue's first. */
function useReadingQueue(currentId: string, search: URLSearchParams, caseTask: string | undefined) {
  const learn = isFromLearn(search);
  const filters = filtersFrom(search);
  const learnScope = learnFiltersFrom(search);
  const learnTask = learnScope.task ?? caseTask ?? "";
  const learnFilters = { task: learnTask, site: learnScope.site, limit: LEARNING_QUEUE_SPAN, offset: 0 };
  const scopeKey = JSON.stringify(learn ? ["learn", learnFilters] : filters);
  const list = useQueue(filters, { enabled: !learn });
  const learning = useLearningQueue(learnFilters, { enabled: learn });
  const data = learn ? learning.data : list.data;
  const fresh = useMemo(
    () => (learn ? learning.data?.items.map((entry) => entry.prediction.id) : list.data?.rows.map((row) => row.prediction.id)) ?? [],
    [learn, learning.data, list.data],
  );
  const [snapshot, setSnapshot] = useState<{ key: string; ids: string[] }>({ key: "", ids: [] });
  useEffect(() => {
    if (fresh.includes(currentId)) setSnapshot({ key: scopeKey, ids: fresh });
  }, [fresh, currentId, scopeKey]);
  const ids = snapshot.key === scopeKey ? snapshot.ids : fresh;
  const index = ids.indexOf(currentId);
  const freshIndex = fresh.indexOf(currentId);
  // Cases of the snapshot after (before) this one that are still in the list.
  const live = (id: string) => id !== currentId && (!data || fresh.includes(id));
  // The learning queue is re-ranked once this case leaves it: its next case is the refreshed queue's first.
  const reranked = learn && data !== undefined && freshIndex < 0;
  const after = (index >= 0 && !reranked ? ids.slice(index + 1) : fresh).filter(live);
  const before = (index >= 0 ? ids.slice(0, index).reverse() : []).filter(live);
  const where = learn ? "learning queue" : "worklist";
  const refetchLearning = learning.refetch;
  /** The case to move on to after a verdict on this one. The worklist's is known at once; the learning
   * queue's once it has been re-ranked without this case (the verdict's invalidation refetches it). */
  const nextAfterVerdict = useCallback(async (): Promise<string | null> => {
    const refreshed = await refetchLearning({ cancelRefetch: false });
    return refreshed.data?.items.map((entry) => entry.prediction.id).find((id) => id !== currentId) ?? null;
  }, [refetchLearning, currentId]);
  return {
    learn,
    next: after[0] ?? null,
    previous: before[0] ?? null,
    nextAfterVerdict,
    listLink: learn ? learnListLink(learnTask || undefined, learnScope.site) : `/worklist${search.toString() ? `?${search}` : ""}`,
    where,
    label: !data
      ? ""
      : freshIndex >= 0
        ? `Case ${freshIndex + 1 + (learn ? 0 : (filters.offset ?? 0))} of ${data.total} in the ${where}`
        : after.length > 0
          ? `${after.length} more ${after.length === 1 ? "case" : "cases"} in the ${where}`
          : `Not in the current ${where}`,
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
      .then(async () => {
        const next = queryClient.getQueryData<Prediction>(keys.prediction(id));
        if (!next) return;
        // The image as the viewer will ask for it: at the file's default window in modality units
        // when its record has a value range, else the server's default rendering.
        const record = await queryClient
          .fetchQuery({
            queryKey: keys.image(next.image_id),
            queryFn: () => unwrap(api.GET("/api/v1/images/{image_id}", { params: { path: { image_id: next.image_id } } })),
            staleTime: Infinity,
          })
          .catch(() => undefined);
        new Image().src = renderUrl(next.image_id, modalityScale(record)?.defaultWindow ?? null);
        // The heatmap is computed on first request: ask for it now if the reader keeps it on (never for
        // a blind read: the API refuses it until the verdict, and it would hint at the answer).
        if (!next.answer_hidden && localStorage.getItem("imaging-ai.heatmap") === "true") new Image().src = heatmapUrl(next.id, null);
      });
  }, [id, queryClient]);
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
  const queue = useReadingQueue(predictionId, search, prediction.data?.task);
  const [helpOpen, setHelpOpen] = useState(false);
  const [advance, setAdvance] = useState(() => localStorage.getItem("imaging-ai.advance") !== "false");
  // The case a verdict was just given on, and the case reading moved on to from it (none after a blind
  // read: reading stays to show the answer that was hidden).
  const [saved, setSaved] = useState<{ on: string; next: string | null; blind: boolean } | null>(null);

  const go = useCallback(
    (id: string | null) => {
      if (id) navigate(`/cases/${id}${search.toString() ? `?${search}` : ""}`);
    },
    [navigate, search],
  );

  usePrefetchCase(queue.next);
  // The case on screen, for a move after a verdict that waits for the learning queue's refresh.
  const currentCase = useRef(predictionId);
  useEffect(() => {
    currentCase.current = predictionId;
  }, [predictionId]);
  useEffect(() => {
    // A note about a verdict belongs to the case it was given on and the one reading moved on to.
    setSaved((current) => (current && current.on !== predictionId && current.next !== predictionId ? null : current));
  }, [predictionId]);

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
        <Link to={queue.listLink} className="button small">
          {queue.learn ? "← Teach the model" : "← Worklist"}
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
          {prediction.data.blind_read && !prediction.data.answer_hidden && <BlindReadOutcome prediction={prediction.data} />}
          <VerdictPanel
            key={prediction.data.id}
            prediction={prediction.data}
            labels={labels}
            shortcutsEnabled={!helpOpen}
            onDone={() => {
              const on = prediction.data.id;
              const blind = prediction.data.answer_hidden;
              if (queue.learn && advance && !blind) {
                // The learning queue is re-ranked by the verdict: move on to its refreshed first case
                // (unless the reader has moved elsewhere meanwhile).
                setSaved({ on, next: null, blind });
                void queue.nextAfterVerdict().then((next) => {
                  if (!next || currentCase.current !== on) return;
                  setSaved({ on, next, blind });
                  go(next);
                });
                return;
              }
              const next = advance && !blind ? queue.next : null;
              setSaved({ on, next, blind });
              if (next) go(next);
            }}
          />
          {saved?.on === prediction.data.id && saved.blind && queue.next && (
            <p className="small" role="status">
              Read saved; the AI&apos;s answer is shown above.{" "}
              <button type="button" className="button small" onClick={() => go(queue.next)}>
                Next case <kbd>J</kbd>
              </button>
            </p>
          )}
          {saved?.next === prediction.data.id && (
            <p className="muted small" role="status">
              Verdict saved on the previous case.
            </p>
          )}
          {!queue.next && saved?.on === prediction.data.id && (
            <p className="ok small" role="status">
              No more cases in this {queue.where}. <Link to={queue.listLink}>Back to the {queue.where}</Link>
            </p>
          )}
          <VerdictHistoryPanel predictionId={prediction.data.id} />
        </aside>
      </div>
      {helpOpen && <ShortcutHelp labels={labels} onClose={() => setHelpOpen(false)} />}
    </div>
  );
}

/** How long the window must rest before the server renders it (a drag changes it every frame). */
const RENDER_DELAY_MS = 200;

function CaseViewer({ prediction, labels, shortcutsEnabled }: { prediction: Prediction; labels: string[]; shortcutsEnabled: boolean }) {
  const image = useImageRecord(prediction.image_id);
  // The window's units come from the record (a value range: modality units), so the image waits for it.
  if (image.isPending)
    return (
      <section className="case-image" aria-label="Image">
        <div className="viewer">
          <p className="viewer-status" role="status">
            Loading image…
          </p>
        </div>
      </section>
    );
  return <CaseImage prediction={prediction} labels={labels} shortcutsEnabled={shortcutsEnabled} info={image.data} />;
}

function CaseImage({
  prediction,
  labels,
  shortcutsEnabled,
  info,
}: {
  prediction: Prediction;
  labels: string[];
  shortcutsEnabled: boolean;
  info: ReturnType<typeof useImageRecord>["data"];
}) {
  // Whose evidence the heatmap shows: the AI's label (null) by default, or another label's.
  const [chosenLabel, setHeatmapLabel] = useState<string | null>(null);
  const heatmapLabel = chosenLabel ?? prediction.predicted_label ?? "";
  // Modality units when the record has a value range (HU for CT); display units for older records.
  const scale = useMemo(() => modalityScale(info), [info]);
  const initialWindow = scale ? scale.defaultWindow : DEFAULT_WINDOW;
  const [window, setWindow] = useState<Window>(initialWindow);
  // The window the server renders: the one asked for, once it has rested (a drag changes it every frame).
  const [renderWindow, setRenderWindow] = useState<Window>(initialWindow);
  useEffect(() => {
    if (sameWindow(window, renderWindow)) return;
    const timer = setTimeout(() => setRenderWindow(window), RENDER_DELAY_MS);
    return () => clearTimeout(timer);
  }, [window, renderWindow]);
  const [invert, setInvert] = useState(false);
  const [heatmapWanted, setShowHeatmap] = useState(() => localStorage.getItem("imaging-ai.heatmap") === "true");
  // A blind read has no heatmap until the verdict reveals the answer: it is neither drawn nor requested.
  const hidden = prediction.answer_hidden;
  const showHeatmap = heatmapWanted && !hidden;
  const [opacity, setOpacity] = useState(() => Number(localStorage.getItem("imaging-ai.opacity") ?? 0.6));
  const [tool, setTool] = useState<Tool>("window");
  const [resetKey, setResetKey] = useState(0);
  const [zoom, setZoom] = useState<{ factor: number; seq: number }>({ factor: 1, seq: 0 });
  const ids = { preset: useId(), opacity: useId(), heatmapLabel: useId() };
  const series = useSeriesSlices(info, prediction);

  useEffect(() => localStorage.setItem("imaging-ai.heatmap", String(heatmapWanted)), [heatmapWanted]);
  useEffect(() => localStorage.setItem("imaging-ai.opacity", String(opacity)), [opacity]);

  const reset = () => {
    setWindow(initialWindow);
    setInvert(false);
    setResetKey((k) => k + 1);
  };

  useShortcuts((key) => {
    switch (key.toLowerCase()) {
      case "h":
        if (hidden) return false;
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

  // The slice on screen (the case's own image unless the series navigator moved), and its prediction's
  // heatmap: none for a slice without a prediction, or whose answer is hidden.
  const slice = series.current;
  const shownImageId = slice?.image_id ?? prediction.image_id;
  const shownPrediction = slice ? slice.prediction : prediction;
  const onOwnImage = shownImageId === prediction.image_id;
  const sliceHeatmap =
    hidden || !shownPrediction || shownPrediction.answer_hidden
      ? null
      : heatmapUrl(shownPrediction.id, onOwnImage && heatmapLabel !== prediction.predicted_label ? heatmapLabel : null);

  const legacyPreset = PRESETS.find((p) => sameWindow(p.window, window))?.key ?? "custom";
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
        {!scale && (
          <>
            <label htmlFor={ids.preset} className="small">
              Preset
            </label>
            <select
              id={ids.preset}
              className="small"
              value={legacyPreset}
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
              {legacyPreset === "custom" && <option value="custom">Custom</option>}
            </select>
            <span className="wl-readout small mono" aria-live="off">
              W {Math.round(window.width)} / L {Math.round(window.center)}
            </span>
          </>
        )}
        <span className="gap" aria-hidden="true" />
        <button type="button" className="button small" aria-pressed={invert} onClick={() => setInvert((v) => !v)}>
          Invert <kbd>I</kbd>
        </button>
        {hidden ? (
          <span className="small muted" data-testid="heatmap-hidden">
            Heatmap: shown after your read
          </span>
        ) : (
          <>
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
              onChange={(e) => setHeatmapLabel(e.target.value === prediction.predicted_label ? null : e.target.value)}
              disabled={!showHeatmap || !onOwnImage}
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
          </>
        )}
        <button type="button" className="button small" onClick={reset}>
          Reset <kbd>R</kbd>
        </button>
      </div>
      {scale && <WindowControls scale={scale} window={window} onChange={setWindow} />}
      <ImageViewer
        imageUrl={renderUrl(shownImageId, scale ? renderWindow : null)}
        rendered={scale ? { window: renderWindow, sourceInverted: scale.sourceInverted } : null}
        dragWindow={scale ? (start, dx, dy) => dragModalityWindow(start, dx, dy, scale) : undefined}
        heatmapUrl={sliceHeatmap}
        showHeatmap={showHeatmap && sliceHeatmap !== null}
        heatmapOpacity={opacity}
        invert={invert}
        window={window}
        onWindowChange={setWindow}
        tool={tool}
        resetKey={resetKey}
        zoomRequest={zoom}
        label={`Image of case ${prediction.id}${info ? `, ${info.cols}×${info.rows} ${info.format}` : ""}${
          series.navigable && slice ? `, slice ${series.index + 1} of ${series.total}` : ""
        }. Drag to change window and level, wheel to zoom.`}
      />
      {series.navigable && <SeriesNavigator series={series} caseHidden={hidden} shortcutsEnabled={shortcutsEnabled} />}
      <p className="viewer-hint small muted">
        Drag: window/level · Shift/Ctrl-drag or middle button: pan · Wheel: zoom
        {info && (
          <>
            {" "}
            · {info.cols}×{info.rows} {info.format.toUpperCase()}
            {info.modality ? ` ${info.modality}` : ""}
            {showHeatmap && sliceHeatmap
              ? onOwnImage
                ? ` · heatmap: Grad-CAM evidence for ${heatmapLabel}${heatmapLabel === prediction.predicted_label ? " (the AI's label)" : ""}`
                : " · heatmap: Grad-CAM evidence for this slice's predicted label"
              : ""}
          </>
        )}
      </p>
    </section>
  );
}

/** Out of distribution: the image is unlike the version's training images (never final automatically). */
function OutOfDistributionWarning({ prediction }: { prediction: Prediction }) {
  if (prediction.out_of_distribution !== true) return null;
  return (
    <p className="ood-warning" role="note" data-testid="ood-warning">
      <strong>⚠ Out of distribution.</strong> This image is unlike the images <span className="mono">{prediction.model_version}</span> was
      trained on
      {prediction.ood_distance !== null && <> (feature distance {prediction.ood_distance.toFixed(1)})</>}: its answer is never made final
      automatically. Read it with care.
    </p>
  );
}

/** The facts that are no hint at the answer: the level, the version and its routing, the site, when. */
function CaseFacts({ prediction, children }: { prediction: Prediction; children?: ReactNode }) {
  return (
    <dl className="facts">
      {children}
      <dt>Autonomy</dt>
      <dd data-testid="autonomy-level" title="The level in force at this site when the AI answered">
        <AutonomyBadge level={prediction.autonomy_level} />
      </dd>
      <dt>Model</dt>
      <dd data-testid="model-version">
        <span className="mono">{prediction.model_version}</span> <RoutingBadge routing={prediction.routing} />
      </dd>
      {!prediction.answer_hidden && (
        <>
          <dt>Decision</dt>
          <dd data-testid="decision-threshold">
            {prediction.decision_threshold === null || prediction.operating_point === "argmax" ? "" : "threshold "}
            <ThresholdText threshold={prediction.decision_threshold} source={prediction.operating_point} />
          </dd>
        </>
      )}
      <dt>Site</dt>
      <dd>{prediction.site ?? "–"}</dd>
      <dt>Received</dt>
      <dd>{formatDate(prediction.created_at)}</dd>
      {prediction.accession_number && (
        <>
          <dt>Accession (pseudonym)</dt>
          <dd title="A keyed hash of the accession number the hospital sent: the number itself is not stored">
            <code>{prediction.accession_number.slice(0, 12)}…</code>
          </dd>
        </>
      )}
    </dl>
  );
}

/** The AI's answer: probability per label, confidence, the level, version and threshold it answered
 * under. On a blind read, only the notice that it is hidden (and the facts that give nothing away). */
export function AiAnswer({ prediction, labels }: { prediction: Prediction; labels: string[] }) {
  const probabilities = prediction.probabilities;
  const ordered = useMemo(() => {
    if (!probabilities) return [];
    const known = labels.filter((label) => label in probabilities);
    const rest = Object.keys(probabilities).filter((label) => !known.includes(label));
    return [...known, ...rest];
  }, [labels, probabilities]);
  if (prediction.answer_hidden || !probabilities || prediction.predicted_label === null) {
    return (
      <section className="panel blind-notice" aria-labelledby="ai-title" data-testid="ai-answer" data-answer="hidden">
        <h2 id="ai-title">AI answer</h2>
        <p className="blind-message" role="note" data-testid="blind-notice">
          <strong>Blind read</strong> — the AI&apos;s answer is hidden until you give your label.
        </p>
        <p className="small muted">
          Read the image as you would without the AI. Reads like yours, given blind, are what the AI&apos;s autonomy is certified on.
        </p>
        <p className="ai-label">
          <span className={`status status-${prediction.status}`}>{prediction.status.replace("_", " ")}</span>
          <BlindReadBadge hidden />
          <OutOfDistributionBadge prediction={prediction} />
        </p>
        <OutOfDistributionWarning prediction={prediction} />
        <CaseFacts prediction={prediction} />
      </section>
    );
  }
  const uncertainty = prediction.uncertainty;
  return (
    <section className="panel" aria-labelledby="ai-title" data-testid="ai-answer" data-answer="shown">
      <h2 id="ai-title">AI answer</h2>
      <p className="ai-label">
        <span className={`label-chip big label-${prediction.predicted_label}`} data-testid="predicted-label">
          {prediction.predicted_label}
        </span>
        <span className={`status status-${prediction.status}`}>{prediction.status.replace("_", " ")}</span>
        <FinalityBadges prediction={prediction} />
        {prediction.blind_read && <BlindReadBadge hidden={false} />}
        <OutOfDistributionBadge prediction={prediction} />
      </p>
      <OutOfDistributionWarning prediction={prediction} />
      <table className="probabilities" data-testid="probabilities">
        <caption className="visually-hidden">Probability per label</caption>
        <tbody>
          {ordered.map((label, index) => {
            const p = probabilities[label] ?? 0;
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
      <CaseFacts prediction={prediction}>
        <dt>Confidence</dt>
        <dd data-testid="confidence">
          <Percent value={prediction.confidence} />
        </dd>
        <dt>Uncertainty</dt>
        <dd title="Normalised entropy: 0 certain, 1 uninformative">
          {uncertainty === null ? "–" : uncertainty.toFixed(2)} {uncertainty !== null && uncertainty > 0.6 && <span className="warn">high</span>}
        </dd>
      </CaseFacts>
    </section>
  );
}

/** After a blind read: the clinician's own label against the AI's answer, now shown. */
export function BlindReadOutcome({ prediction }: { prediction: Prediction }) {
  const history = useVerdicts(prediction.id);
  const read = history.data?.verdicts.find((verdict) => verdict.blind);
  const ai = prediction.predicted_label;
  if (!read || ai === null) return null;
  const label = read.verdict === "agree" ? ai : read.label;
  const matched = read.verdict === "agree";
  return (
    <p className={`blind-outcome ${matched ? "matched" : read.verdict === "unreadable" ? "unreadable" : "differed"}`} role="status" data-testid="blind-outcome" data-matched={matched}>
      {read.verdict === "unreadable" ? (
        <>
          Your blind read: <strong>unreadable</strong>. The AI answered <strong>{ai}</strong>.
        </>
      ) : matched ? (
        <>
          Your blind read <strong>{label}</strong> matches the AI&apos;s answer.
        </>
      ) : (
        <>
          Your blind read <strong>{label}</strong> differs from the AI&apos;s answer, <strong>{ai}</strong>. Your label is the label of
          record.
        </>
      )}
    </p>
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
                  {verdict.blind
                    ? verdict.verdict === "unreadable"
                      ? "unreadable"
                      : `read ${verdict.label ?? history.data.predicted_label ?? ""}`
                    : verdict.verdict === "disagree"
                      ? `corrected to ${verdict.label}`
                      : verdict.verdict}
                </span>{" "}
                {verdict.blind && (
                  <span className="badge blind-read" title="Given without the AI's answer in view">
                    blind
                  </span>
                )}{" "}
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
