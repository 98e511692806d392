// Trust: per task and site, how far the AI has earned autonomy and whether it keeps it. Levels exist per
// site only. A level is certified per label on blind reads (clinicians labelling the image before they
// see the AI's answer): a fixed sequence of confidence thresholds, most conservative first, each with a
// time-uniform upper bound on the error of the label's answers at or above it, against the label's
// target. Around it: the level in force and where it comes from, the drift test and the
// out-of-distribution rate, the descriptive agreement (over time, per confidence bin), the recommended
// level and (administrators) the change, with per-label thresholds.
import { useId, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import type { AutonomyLevel, AutonomyOverview, ClassEvidence, Drift, ErrorBound, Proportion, SiteAutonomy } from "../api/client";
import { useAutonomy, useCalibration, useChangeAutonomy, useTaskMetrics, useTasks } from "../api/queries";
import { useAuth } from "../auth/AuthContext";
import { AgreementChart, agreementLines } from "../charts/AgreementChart";
import { ReliabilityDiagram } from "../charts/ReliabilityDiagram";
import { AutonomyBadge, formatThreshold } from "../components/Badges";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Empty, ErrorState, formatDate, formatNumber, Loading } from "../components/States";
import { LEVELS, levelName } from "./worklistParams";

/** No site chosen: every site's summary, and the charts with every site's series. */
const ALL = "";
const BUCKETS = [10, 25, 50, 100];

type Thresholds = Record<string, number | null>;

/** "1 image", "2 images" */
const count = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

const pct = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;

/** "97.0% (95% CI 93.1%–99.0%, 116/120)", or "no cases" */
export function proportionText(p: Proportion | null | undefined): string {
  if (!p || p.n === 0 || p.rate === null) return "no cases";
  return `${pct(p.rate)} (95% CI ${pct(p.low)}–${pct(p.high)}, ${p.successes}/${p.n})`;
}

/** A confidence threshold of the sequence: "≥ 0.97", or "every answer" for the last one (0). */
export function thresholdLabel(threshold: number): string {
  return threshold <= 0 ? "every answer" : `≥ ${formatThreshold(threshold)}`;
}

/** "Semi-autonomous (normal ≥ 0.97; pneumonia never)" */
export function levelText(level: AutonomyLevel, thresholds: Thresholds, labels: string[]): string {
  if (level !== "semi_autonomous") return levelName(level);
  const keys = [...labels, ...Object.keys(thresholds).filter((label) => !labels.includes(label))];
  const parts = keys.map((label) => {
    const threshold = thresholds[label];
    if (threshold === null || threshold === undefined) return `${label} never`;
    return threshold <= 0 ? `${label} always` : `${label} ${thresholdLabel(threshold)}`;
  });
  return parts.length ? `${levelName(level)} (${parts.join("; ")})` : levelName(level);
}

function sameThresholds(a: Thresholds, b: Thresholds): boolean {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].every((label) => (a[label] ?? null) === (b[label] ?? null));
}

/** The recommendation differs from what is in force (a level, or semi-autonomy's thresholds). */
function changeRecommended(site: SiteAutonomy): boolean {
  const r = site.recommendation;
  return r.level !== site.level || (r.level === "semi_autonomous" && !sameThresholds(r.class_thresholds, site.class_thresholds));
}

const SOURCES: Record<SiteAutonomy["level_source"], string> = {
  site: "set for this site",
  default: "no level set for this site: supervised (the default)",
  version_changed: "supervised: the level set here was earned by a version that no longer serves this site",
  no_site: "cases without a site are always supervised",
};

/** The label's last step: the deepest threshold tested (the first failure, or the last one certified). */
function deepestStep(item: ClassEvidence) {
  return item.steps.length ? item.steps[item.steps.length - 1]! : null;
}

/** The step at the certified threshold (the last one certified), if any. */
function certifiedStep(item: ClassEvidence) {
  return item.certified_threshold === null ? undefined : [...item.steps].reverse().find((one) => one.certified && one.threshold === item.certified_threshold);
}

export function Trust() {
  const [params, setParams] = useSearchParams();
  const tasks = useTasks();
  const task = params.get("task") || tasks.data?.[0]?.name || "";
  const site = params.get("site") || ALL;
  const [cases, setCases] = useState(25);
  const autonomy = useAutonomy(task);
  const ids = { task: useId(), site: useId(), bucket: useId() };
  const set = (change: Record<string, string>) => {
    const next = new URLSearchParams({ task, site, ...change });
    if (next.get("site") === ALL) next.delete("site");
    setParams(next);
  };

  if (tasks.isPending) return <Loading what="the tasks" />;
  if (tasks.isError) return <ErrorState error={tasks.error} what="the tasks" onRetry={() => void tasks.refetch()} />;

  const sites = autonomy.data?.sites ?? [];
  const selected = sites.find((entry) => entry.site === site);
  const labels = tasks.data.find((entry) => entry.name === task)?.labels ?? Object.keys(autonomy.data?.error_targets ?? {});
  return (
    <div className="page trust">
      <div className="page-head">
        <h1>Trust</h1>
        <p className="muted">How far the AI has earned autonomy at each site, certified on blind reads, and whether it keeps it.</p>
      </div>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor={ids.task}>Task</label>
          <select id={ids.task} value={task} onChange={(e) => set({ task: e.target.value, site: ALL })}>
            {tasks.data.map((entry) => (
              <option key={entry.name} value={entry.name}>
                {entry.title}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.site}>Site</label>
          <select id={ids.site} value={site} onChange={(e) => set({ site: e.target.value })}>
            <option value={ALL}>All sites</option>
            {sites.map((entry) => (
              <option key={entry.site} value={entry.site}>
                {entry.site}
              </option>
            ))}
            {site !== ALL && !sites.some((entry) => entry.site === site) && <option value={site}>{site}</option>}
          </select>
        </div>
      </form>
      {!task ? (
        <Empty>
          <p>No task is configured.</p>
        </Empty>
      ) : autonomy.isPending ? (
        <Loading what="the evidence" />
      ) : autonomy.isError ? (
        <ErrorState error={autonomy.error} what="the evidence" onRetry={() => void autonomy.refetch()} />
      ) : (
        <>
          <Rules overview={autonomy.data} labels={labels} />
          {site !== ALL &&
            (selected ? (
              <SitePanel task={task} overview={autonomy.data} entry={selected} labels={labels} />
            ) : (
              <Empty>
                <p>No cases from site {site} for this task.</p>
              </Empty>
            ))}
          {sites.length === 0 ? (
            <Empty>
              <p>No site has sent cases for this task yet: levels are set per site, once it has.</p>
            </Empty>
          ) : (
            <SiteTable overview={autonomy.data} labels={labels} selected={site} onSelect={(entry) => set({ site: entry })} />
          )}
          <div className="trust-charts">
            <section className="panel" aria-labelledby="over-time-title">
              <div className="panel-head">
                <h2 id="over-time-title">Agreement over time</h2>
                <div className="field inline">
                  <label htmlFor={ids.bucket}>Cases per point</label>
                  <select id={ids.bucket} value={cases} onChange={(e) => setCases(Number(e.target.value))}>
                    {BUCKETS.map((n) => (
                      <option key={n} value={n}>
                        {n}
                      </option>
                    ))}
                  </select>
                </div>
              </div>
              <p className="muted small">Descriptive: every verdict, blind or not. Levels are certified on blind reads only (above).</p>
              <OverTime task={task} site={site} cases={cases} />
            </section>
            <section className="panel" aria-labelledby="calibration-title">
              <h2 id="calibration-title">Reliability diagram{site !== ALL ? `: ${site}` : ""}</h2>
              <Reliability task={task} site={site} calibrationError={selected?.evidence.calibration_error} />
            </section>
          </div>
        </>
      )}
    </div>
  );
}

/** The targets a level is certified against, and the error rate of the certification itself. */
function Rules({ overview, labels }: { overview: AutonomyOverview; labels: string[] }) {
  const targets = Object.entries(overview.error_targets).sort(([a], [b]) => labels.indexOf(a) - labels.indexOf(b));
  const count = Math.max(1, targets.length);
  return (
    <section className="panel rules" aria-labelledby="rules-title" data-testid="certification-rules">
      <h2 id="rules-title">How a level is earned</h2>
      <p className="small">
        Each label&apos;s answers are certified on <strong>blind reads</strong> (a share of cases the clinician labels before seeing the
        AI&apos;s answer): from the most confident answers down, a confidence threshold is certified while the upper bound on the error of
        the label&apos;s answers at or above it stays under the label&apos;s target. The bound holds however often it is looked at: the chance
        that any label of a level is certified although its error is above target is at most {pct(overview.alpha, 1)} ({pct(overview.alpha / count, 2)}{" "}
        per label). Out-of-distribution images are never made final automatically.
      </p>
      <dl className="targets">
        {targets.map(([label, target]) => (
          <div key={label} className="target">
            <dt>{label}</dt>
            <dd>error ≤ {pct(target, 0)}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function OverTime({ task, site, cases }: { task: string; site: string; cases: number }) {
  const metrics = useTaskMetrics(task, cases);
  const lines = useMemo(() => {
    const series = (metrics.data?.series ?? []).filter((one) => site === ALL || one.site === site);
    return agreementLines(series);
  }, [metrics.data, site]);
  if (metrics.isPending) return <Loading what="the metrics" />;
  if (metrics.isError) return <ErrorState error={metrics.error} what="the metrics" onRetry={() => void metrics.refetch()} />;
  if (!lines.some((line) => line.points.some((point) => point.n > 0)))
    return (
      <Empty>
        <p>No verdicts yet{site !== ALL ? ` at ${site}` : ""}: agreement shows once clinicians have read cases.</p>
      </Empty>
    );
  return <AgreementChart lines={lines} />;
}

function Reliability({ task, site, calibrationError }: { task: string; site: string; calibrationError: number | null | undefined }) {
  const calibration = useCalibration(task, site === ALL ? null : site);
  if (calibration.isPending) return <Loading what="the calibration" />;
  if (calibration.isError) return <ErrorState error={calibration.error} what="the calibration" onRetry={() => void calibration.refetch()} />;
  if (calibration.data === null)
    return (
      <p className="muted">
        This server does not give per-bin calibration (<code>GET /api/v1/tasks/{"{task}"}/calibration</code>). Expected
        calibration error: {formatNumber(calibrationError)}.
      </p>
    );
  if (!calibration.data.bins.some((bin) => bin.n > 0))
    return (
      <Empty>
        <p>No reviewed cases of the active version yet.</p>
      </Empty>
    );
  return (
    <>
      <ReliabilityDiagram bins={calibration.data.bins} />
      <p className="small">
        Expected calibration error: {formatNumber(calibrationError)} <span className="muted">(model {calibration.data.model_version ?? "–"})</span>
      </p>
    </>
  );
}

/** One site: the level in force and where it comes from, its blind reads, the certification per label,
 * the drift test, the descriptive evidence, the recommendation and (administrators) the change. */
function SitePanel({ task, overview, entry, labels }: { task: string; overview: AutonomyOverview; entry: SiteAutonomy; labels: string[] }) {
  const { isAdmin } = useAuth();
  const [dialog, setDialog] = useState<{ level: AutonomyLevel; thresholds: Thresholds } | null>(null);
  const e = entry.evidence;
  const recommended = changeRecommended(entry);
  const supervisedBySource = entry.level_source === "default" || entry.level_source === "version_changed" || entry.level_source === "no_site";
  return (
    <section className="panel" aria-labelledby="level-title" data-testid="current-level" data-site={entry.site}>
      <h2 id="level-title">
        {entry.site}: <AutonomyBadge level={entry.level} />
      </h2>
      <div className="level-grid">
        <dl className="facts">
          <dt>In force</dt>
          <dd data-testid="level-in-force">{levelText(entry.level, entry.class_thresholds, labels)}</dd>
          <dt>Source</dt>
          <dd data-testid="level-source" data-source={entry.level_source} className={entry.level_source === "version_changed" ? "warn" : undefined}>
            {SOURCES[entry.level_source]}
          </dd>
          {!supervisedBySource || entry.changed_by ? (
            <>
              <dt>Set by</dt>
              <dd>
                {entry.changed_by ?? "–"}
                {entry.changed_at && <span className="muted small"> {formatDate(entry.changed_at)}</span>}
              </dd>
            </>
          ) : null}
          {entry.reason && (
            <>
              <dt>Reason</dt>
              <dd>{entry.reason}</dd>
            </>
          )}
          <dt>Model</dt>
          <dd className="mono">{entry.model_version ?? "–"}</dd>
          <dt>Blind reads</dt>
          <dd data-testid="blind-reads">
            {entry.blind_reads} read, {entry.blind_reads_pending} waiting{" "}
            <span className="muted small">
              ({pct(entry.blind_read_fraction, 0)} of cases drawn; {count(entry.cases, "case")} answered here)
            </span>
          </dd>
        </dl>
        <dl className="facts">
          <dt>Drift test</dt>
          <dd data-testid="drift">
            <DriftText drift={entry.drift} />
          </dd>
          <dt>Out of distribution</dt>
          <dd data-testid="ood-rate">
            <OodText drift={entry.drift} />
          </dd>
          <dt>Agreement</dt>
          <dd>
            {proportionText(e.agreement)} <span className="muted small">{count(e.verdicts, "verdict")}, descriptive</span>
          </dd>
          <dt>Sensitivity</dt>
          <dd>{proportionText(e.sensitivity)}</dd>
          <dt>Specificity</dt>
          <dd>{proportionText(e.specificity)}</dd>
          <dt>Calibration error</dt>
          <dd>{formatNumber(e.calibration_error)}</dd>
        </dl>
      </div>
      <ClassTable site={entry.site} classes={entry.classes} />
      <div className={`recommendation${recommended ? " changed" : ""}`} data-testid="recommendation">
        <p>
          <strong>Recommended: {levelText(entry.recommendation.level, entry.recommendation.class_thresholds, labels)}</strong>
          {!recommended && <span className="muted"> (as in force)</span>}
        </p>
        <p className="small">{entry.recommendation.reason}</p>
        {isAdmin ? (
          <div className="actions">
            {recommended && (
              <button type="button" className="button primary" onClick={() => setDialog({ level: entry.recommendation.level, thresholds: entry.recommendation.class_thresholds })}>
                Apply recommendation…
              </button>
            )}
            <button type="button" className="button" onClick={() => setDialog({ level: entry.level, thresholds: defaultThresholds(entry) })}>
              Change level…
            </button>
          </div>
        ) : (
          <p className="muted small">Administrators apply changes; lowering is always allowed, raising only as far as the certification allows.</p>
        )}
      </div>
      {dialog && <ApplyDialog task={task} overview={overview} entry={entry} labels={labels} initial={dialog} onClose={() => setDialog(null)} />}
    </section>
  );
}

/** The thresholds a change starts from: the recommendation's, else those in force, else the certified. */
function defaultThresholds(entry: SiteAutonomy): Thresholds {
  if (Object.keys(entry.recommendation.class_thresholds).length) return entry.recommendation.class_thresholds;
  if (Object.keys(entry.class_thresholds).length) return entry.class_thresholds;
  return Object.fromEntries(entry.classes.map((item) => [item.label, item.certified_threshold]));
}

/** Per label: the target, the certified threshold, the bound at the deepest step tested (with the blind
 * reads it rests on), and the answers the level in force has finalised since it was set. Each label's
 * whole sequence of steps is one click away. */
function ClassTable({ site, classes }: { site: string; classes: ClassEvidence[] }) {
  const captionId = useId();
  if (classes.length === 0) return <p className="muted">No version serves this site: nothing to certify.</p>;
  return (
    <div className="certification">
      <h3 id={captionId}>Certification per label, on blind reads</h3>
      <div className="table-wrap">
        <table className="table" data-testid="class-table" aria-labelledby={captionId}>
          <thead>
            <tr>
              <th scope="col">Label</th>
              <th scope="col" className="num">
                Target error
              </th>
              <th scope="col">Certified</th>
              <th scope="col">Deepest step: error bound vs target</th>
              <th scope="col" className="num">
                Blind reads (errors) / cases
              </th>
              <th scope="col">In force since set</th>
            </tr>
          </thead>
          <tbody>
            {classes.map((item) => {
              const step = deepestStep(item);
              const certified = certifiedStep(item);
              return (
                <tr key={item.label} data-label={item.label} data-certified={item.certified_threshold !== null}>
                  <th scope="row">
                    <span className={`label-chip label-${item.label}`}>{item.label}</span>
                  </th>
                  <td className="num">{pct(item.target, 1)}</td>
                  <td>
                    {item.certified_threshold === null || !certified ? (
                      <span className="muted" data-testid="certified">
                        not certified
                      </span>
                    ) : (
                      <span className="bound-cell">
                        <span className="ok" data-testid="certified">
                          {thresholdLabel(item.certified_threshold)}
                        </span>
                        <span className="muted small" data-testid="certified-bound">
                          upper {pct(certified.bound.upper)} on {count(certified.bound.blind_reads, "blind read")}
                        </span>
                      </span>
                    )}
                  </td>
                  <td data-testid="deepest-step">
                    {step ? (
                      <span className="bound-cell">
                        <span>
                          at {thresholdLabel(step.threshold)}: upper <strong className={step.certified ? "ok" : "danger"}>{pct(step.bound.upper)}</strong>{" "}
                          {step.bound.upper < item.target ? "<" : "≥"} {pct(item.target, 1)}
                          {step.certified ? "" : " — not certified"}
                        </span>
                        <ErrorBar bound={step.bound} target={item.target} />
                      </span>
                    ) : (
                      <span className="muted">no step tested</span>
                    )}
                  </td>
                  <td className="num">
                    {step ? (
                      <>
                        {step.bound.blind_reads} ({step.bound.errors}) / {step.bound.cases}
                      </>
                    ) : (
                      "–"
                    )}
                  </td>
                  <td data-testid="in-force">
                    <InForce item={item} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {classes.map((item) => (
        <details key={`${site}|${item.label}`} className="steps" data-label={item.label}>
          <summary>
            Every step for {item.label} at {site} ({item.steps.length} tested, {pct(item.alpha, 2)} error rate for this label)
          </summary>
          <StepTable item={item} />
        </details>
      ))}
    </div>
  );
}

function InForce({ item }: { item: ClassEvidence }) {
  if (item.in_force_threshold === null) return <span className="muted">not final automatically</span>;
  const bound = item.in_force;
  return (
    <span className={item.exceeded ? "danger" : undefined}>
      final at {thresholdLabel(item.in_force_threshold)}
      {bound ? (
        <>
          : upper {pct(bound.upper)} on {count(bound.blind_reads, "blind read")} ({count(bound.errors, "error")})
        </>
      ) : (
        ": no answers yet"
      )}
      {item.exceeded && <strong> — error above target: the level drops</strong>}
    </span>
  );
}

function StepTable({ item }: { item: ClassEvidence }) {
  return (
    <table className="table steps-table">
      <caption className="visually-hidden">Fixed-sequence test for {item.label}, most conservative threshold first</caption>
      <thead>
        <tr>
          <th scope="col">Confidence</th>
          <th scope="col" className="num">
            Cases
          </th>
          <th scope="col" className="num">
            Blind reads
          </th>
          <th scope="col" className="num">
            Errors
          </th>
          <th scope="col" className="num">
            Estimate
          </th>
          <th scope="col">Bound (lower–upper)</th>
          <th scope="col">Result</th>
        </tr>
      </thead>
      <tbody>
        {item.steps.map((step) => (
          <tr key={step.threshold} data-threshold={step.threshold}>
            <th scope="row">{thresholdLabel(step.threshold)}</th>
            <td className="num">{step.bound.cases}</td>
            <td className="num">{step.bound.blind_reads}</td>
            <td className="num">{step.bound.errors}</td>
            <td className="num">{pct(step.bound.estimate)}</td>
            <td>
              {pct(step.bound.lower)}–{pct(step.bound.upper)}
            </td>
            <td className={step.certified ? "ok" : "danger"}>{step.certified ? "certified" : `not certified (≥ ${pct(item.target, 1)})`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The error's bounds as a small bar on 0 … twice the target, the estimate as a tick, the target as a
 * line. */
function ErrorBar({ bound, target }: { bound: ErrorBound; target: number }) {
  const scale = Math.min(1, Math.max(2 * target, 0.01));
  const at = (value: number) => `${Math.min(100, (value / scale) * 100)}%`;
  const width = Math.max(1, Math.min(100, ((Math.min(bound.upper, scale) - Math.min(bound.lower, scale)) / scale) * 100));
  return (
    <span className="interval-bar error-bar" aria-hidden="true">
      <span className={`interval-range${bound.upper < target ? " within" : " beyond"}`} style={{ left: at(bound.lower), width: `${width}%` }} />
      {bound.estimate !== null && <span className="interval-rate" style={{ left: at(bound.estimate) }} />}
      <span className="interval-target" style={{ left: at(target) }} />
    </span>
  );
}

const WHICH: Record<NonNullable<Drift["which"]>, string> = {
  features: "the images' feature distance",
  output_high: "the output, upwards",
  output_low: "the output, downwards",
};

/** The CUSUM drift test: its statistic against the threshold, which one fired, over how many images. */
export function DriftText({ drift }: { drift: Drift }) {
  if (drift.statistic === null) return <span className="muted">not measured ({count(drift.images, "image")} scored)</span>;
  return (
    <span className={drift.drifted ? "danger" : undefined}>
      CUSUM {drift.statistic.toFixed(2)} {drift.drifted ? ">" : "vs"} {formatNumber(drift.threshold, 2)} {drift.drifted ? "— drifted" : "— stable"}
      {drift.which && <> on {WHICH[drift.which]}</>} <span className="muted small">({count(drift.images, "image")})</span>
    </span>
  );
}

function OodText({ drift }: { drift: Drift }) {
  if (drift.out_of_distribution_rate === null) return <span className="muted">not measured</span>;
  return (
    <span className={drift.out_of_distribution > 0 ? "warn" : undefined}>
      {pct(drift.out_of_distribution_rate)}{" "}
      <span className="muted small">
        ({drift.out_of_distribution} of {drift.images} images)
      </span>
    </span>
  );
}

export function ApplyDialog({
  task,
  overview,
  entry,
  labels,
  initial,
  onClose,
}: {
  task: string;
  overview: AutonomyOverview;
  entry: SiteAutonomy;
  labels: string[];
  initial: { level: AutonomyLevel; thresholds: Thresholds };
  onClose: () => void;
}) {
  const change = useChangeAutonomy(task);
  const [level, setLevel] = useState<AutonomyLevel>(initial.level);
  const classLabels = entry.classes.length ? entry.classes.map((item) => item.label) : labels;
  const [thresholds, setThresholds] = useState<Record<string, string>>(() =>
    Object.fromEntries(classLabels.map((label) => [label, initial.thresholds[label] == null ? "" : String(initial.thresholds[label])])),
  );
  const [fraction, setFraction] = useState(String(entry.blind_read_fraction));
  const ids = { level: useId(), fraction: useId(), thresholds: useId() };
  const semi = level === "semi_autonomous";
  const fractionValue = Number(fraction);
  // Sent only when changed (the API keeps the site's own otherwise); a new one must be in (0, 1].
  const fractionChanged = fraction.trim() === "" || fractionValue !== entry.blind_read_fraction;
  const fractionValid = !fractionChanged || (fraction.trim() !== "" && fractionValue > 0 && fractionValue <= 1);
  const thresholdsValid = Object.values(thresholds).every((value) => value.trim() === "" || (Number(value) >= 0 && Number(value) <= 1));
  return (
    <ConfirmDialog
      title={`Autonomy for site ${entry.site}`}
      confirmLabel={`Set ${levelName(level).toLowerCase()}`}
      askReason
      busy={change.isPending}
      canConfirm={fractionValid && (!semi || thresholdsValid)}
      error={change.error}
      onCancel={onClose}
      onConfirm={(reason) =>
        change.mutate(
          {
            site: entry.site,
            level,
            ...(semi
              ? {
                  class_thresholds: Object.fromEntries(
                    Object.entries(thresholds).map(([label, value]) => [label, value.trim() === "" ? null : Number(value)]),
                  ),
                }
              : {}),
            ...(fractionChanged ? { blind_read_fraction: fractionValue } : {}),
            reason,
          },
          { onSuccess: onClose },
        )
      }
    >
      <p>
        Site <strong>{entry.site}</strong>, model <span className="mono">{entry.model_version ?? "–"}</span>. In force:{" "}
        <strong>{levelText(entry.level, entry.class_thresholds, labels)}</strong>. Recommended:{" "}
        <strong>{levelText(entry.recommendation.level, entry.recommendation.class_thresholds, labels)}</strong> — {entry.recommendation.reason}
      </p>
      <ul className="evidence-list">
        {entry.classes.map((item) => {
          const step = deepestStep(item);
          const certified = certifiedStep(item);
          return (
            <li key={item.label}>
              {item.label}:{" "}
              {item.certified_threshold === null || !certified ? (
                <>
                  not certified
                  {step && (
                    <>
                      {" "}
                      (error bound {pct(step.bound.upper)} at {thresholdLabel(step.threshold)} vs target {pct(item.target, 1)}, {count(step.bound.blind_reads, "blind read")})
                    </>
                  )}
                </>
              ) : (
                <>
                  certified at {thresholdLabel(item.certified_threshold)} (error bound {pct(certified.bound.upper)} &lt; target {pct(item.target, 1)},{" "}
                  {count(certified.bound.blind_reads, "blind read")})
                  {step && !step.certified && (
                    <span className="muted">
                      ; not at {thresholdLabel(step.threshold)} ({pct(step.bound.upper)})
                    </span>
                  )}
                </>
              )}
            </li>
          );
        })}
        <li>
          {entry.blind_reads} blind reads, {entry.blind_reads_pending} waiting; overall error rate of the certification {pct(overview.alpha, 1)}
        </li>
        <li>
          Drift: <DriftText drift={entry.drift} />; out of distribution: <OodText drift={entry.drift} />
        </li>
      </ul>
      <div className="field">
        <label htmlFor={ids.level}>Level</label>
        <select id={ids.level} value={level} onChange={(event) => setLevel(event.target.value as AutonomyLevel)}>
          {LEVELS.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </div>
      {semi && (
        <fieldset className="thresholds" aria-describedby={ids.thresholds}>
          <legend>Confidence thresholds per label</legend>
          <p className="muted small" id={ids.thresholds}>
            A label&apos;s answers at or above its threshold are final without a clinician (empty: never). Each must be at or above the
            certified one.
          </p>
          {classLabels.map((label) => {
            const certified = entry.classes.find((item) => item.label === label)?.certified_threshold ?? null;
            const inputId = `${ids.thresholds}-${label}`;
            return (
              <div className="field inline" key={label}>
                <label htmlFor={inputId}>
                  {label}{" "}
                  <span className="small">{certified === null ? "(not certified: leave empty)" : `(certified ${thresholdLabel(certified)})`}</span>
                </label>
                <input
                  id={inputId}
                  type="number"
                  min={certified ?? 0}
                  max={1}
                  step={0.005}
                  value={thresholds[label] ?? ""}
                  placeholder="never"
                  disabled={certified === null && (thresholds[label] ?? "") === ""}
                  onChange={(event) => setThresholds((current) => ({ ...current, [label]: event.target.value }))}
                />
              </div>
            );
          })}
        </fieldset>
      )}
      <div className="field">
        <label htmlFor={ids.fraction}>Blind-read fraction (share of the site&apos;s cases read blind, 0–1)</label>
        <input id={ids.fraction} type="number" min={0} max={1} step={0.01} value={fraction} onChange={(event) => setFraction(event.target.value)} />
      </div>
    </ConfirmDialog>
  );
}

/** Every site: the level and its source, the blind reads, per label the certified threshold with the
 * bound at the deepest step, the drift test and out-of-distribution rate, the recommendation. */
function SiteTable({
  overview,
  labels,
  selected,
  onSelect,
}: {
  overview: AutonomyOverview;
  labels: string[];
  selected: string;
  onSelect: (site: string) => void;
}) {
  return (
    <section className="panel" aria-labelledby="sites-title">
      <h2 id="sites-title">Per site</h2>
      <div className="table-wrap">
        <table className="table" data-testid="site-table">
          <thead>
            <tr>
              <th scope="col">Site</th>
              <th scope="col">Level</th>
              <th scope="col" className="num">
                Blind reads (waiting)
              </th>
              <th scope="col">Certified per label (error bound vs target)</th>
              <th scope="col">Agreement (95% CI)</th>
              <th scope="col" className="num">
                Out of distribution
              </th>
              <th scope="col">Drift (CUSUM vs threshold)</th>
              <th scope="col">Recommendation</th>
            </tr>
          </thead>
          <tbody>
            {overview.sites.map((entry) => (
              <tr key={entry.site} data-site={entry.site} aria-current={entry.site === selected ? "true" : undefined}>
                <th scope="row" className="nowrap">
                  <button type="button" className="link" onClick={() => onSelect(entry.site)} aria-label={`Show ${entry.site}`}>
                    {entry.site}
                  </button>
                </th>
                <td>
                  <AutonomyBadge level={entry.level} />
                  {entry.level === "semi_autonomous" && (
                    <span className="small"> {levelText(entry.level, entry.class_thresholds, labels).replace(/^[^(]*/, "")}</span>
                  )}
                  {entry.level_source !== "site" && (
                    <span className={`small ${entry.level_source === "version_changed" ? "warn" : "muted"}`}>
                      {" "}
                      {entry.level_source === "version_changed" ? "(new version)" : "(default)"}
                    </span>
                  )}
                </td>
                <td className="num">
                  {entry.blind_reads} ({entry.blind_reads_pending})
                </td>
                <td>
                  <ul className="class-summary">
                    {entry.classes.map((item) => {
                      // Certified: the bound at the certified threshold; else at the step that failed.
                      const certified = certifiedStep(item);
                      const step = certified ?? deepestStep(item);
                      return (
                        <li key={item.label} data-label={item.label}>
                          <span className="class-name">{item.label}</span>{" "}
                          {item.certified_threshold === null ? (
                            <span className="muted">not certified</span>
                          ) : (
                            <span className="ok">{thresholdLabel(item.certified_threshold)}</span>
                          )}
                          {step && (
                            <span className="muted small">
                              {" "}
                              ({pct(step.bound.upper)} {step.certified ? "<" : "vs"} {pct(item.target, 0)}, n={step.bound.blind_reads})
                            </span>
                          )}
                          {item.exceeded && <strong className="danger"> exceeded</strong>}
                        </li>
                      );
                    })}
                  </ul>
                </td>
                <td>
                  <Interval p={entry.evidence.agreement} />
                </td>
                <td className="num">{pct(entry.drift.out_of_distribution_rate)}</td>
                <td>
                  {entry.drift.statistic === null ? (
                    <span className="muted">–</span>
                  ) : (
                    <span className={entry.drift.drifted ? "danger" : undefined}>
                      {entry.drift.statistic.toFixed(2)} / {formatNumber(entry.drift.threshold, 2)}
                      {entry.drift.drifted && ` drifted${entry.drift.which ? ` (${entry.drift.which.replace("_", " ")})` : ""}`}
                    </span>
                  )}
                </td>
                <td title={entry.recommendation.reason}>
                  {changeRecommended(entry) ? (
                    <strong>{levelText(entry.recommendation.level, entry.recommendation.class_thresholds, labels)}</strong>
                  ) : (
                    <span className="muted">keep</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** A rate with its interval drawn as a small bar (0–100%). */
function Interval({ p }: { p: Proportion | null | undefined }) {
  if (!p || p.n === 0 || p.rate === null) return <span className="muted">–</span>;
  const low = (p.low ?? 0) * 100;
  const high = (p.high ?? 1) * 100;
  return (
    <span className="interval">
      <span className="interval-text">
        {pct(p.rate)} <span className="muted small">({pct(p.low, 0)}–{pct(p.high, 0)}, n={p.n})</span>
      </span>
      <span className="interval-bar" aria-hidden="true">
        <span className="interval-range" style={{ left: `${low}%`, width: `${Math.max(1, high - low)}%` }} />
        <span className="interval-rate" style={{ left: `${p.rate * 100}%` }} />
      </span>
    </span>
  );
}
