// Trust: per task, how far the AI has earned autonomy and whether it keeps it. Agreement over time with
// its interval, the per-site evidence, the reliability diagram, the level in force with the recommended
// change, and (administrators) the action that applies it.
import { useId, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import type { AutonomyLevel, AutonomyOverview, Proportion, SiteAutonomy } from "../api/client";
import { useAutonomy, useCalibration, useChangeAutonomy, useTaskMetrics, useTasks } from "../api/queries";
import { useAuth } from "../auth/AuthContext";
import { AgreementChart, agreementLines } from "../charts/AgreementChart";
import { ReliabilityDiagram } from "../charts/ReliabilityDiagram";
import { AutonomyBadge } from "../components/Badges";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Empty, ErrorState, formatDate, formatNumber, Loading } from "../components/States";
import { LEVELS, levelName } from "./worklistParams";

const ALL = "*";
const BUCKETS = [10, 25, 50, 100];

const pct = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;

/** "97.0% (93.1–99.0%, n=120)", or "no verdicts" */
export function proportionText(p: Proportion | null | undefined): string {
  if (!p || p.n === 0 || p.rate === null) return "no cases";
  return `${pct(p.rate)} (95% CI ${pct(p.low)}–${pct(p.high)}, ${p.successes}/${p.n})`;
}

function siteName(site: string): string {
  return site === ALL ? "All sites" : site;
}

function levelText(entry: { level: AutonomyLevel; confidence_threshold: number | null }): string {
  return entry.level === "semi_autonomous" && entry.confidence_threshold !== null
    ? `${levelName(entry.level)} (confidence ≥ ${entry.confidence_threshold})`
    : levelName(entry.level);
}

/** The recommendation differs from what is in force (a level, or semi-autonomy's threshold). */
function changeRecommended(site: SiteAutonomy): boolean {
  const r = site.recommendation;
  return r.level !== site.level || (r.level === "semi_autonomous" && r.confidence_threshold !== site.confidence_threshold);
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
  return (
    <div className="page trust">
      <div className="page-head">
        <h1>Trust</h1>
        <p className="muted">How far the AI has earned autonomy, per task and site, and whether it keeps it.</p>
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
            {sites
              .filter((entry) => entry.site !== ALL)
              .map((entry) => (
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
          {selected ? (
            <CurrentLevel task={task} overview={autonomy.data} entry={selected} />
          ) : (
            <Empty>
              <p>No cases from site {site} for this task.</p>
            </Empty>
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
              <OverTime task={task} site={site} cases={cases} target={autonomy.data.target} />
            </section>
            <section className="panel" aria-labelledby="calibration-title">
              <h2 id="calibration-title">Reliability diagram{site !== ALL ? `: ${site}` : ""}</h2>
              <Reliability task={task} site={site} calibrationError={selected?.evidence.calibration_error} />
            </section>
          </div>
          <SiteTable overview={autonomy.data} selected={site} onSelect={(entry) => set({ site: entry })} />
        </>
      )}
    </div>
  );
}

function OverTime({ task, site, cases, target }: { task: string; site: string; cases: number; target: number }) {
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
  return <AgreementChart lines={lines} target={target} />;
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

function CurrentLevel({ task, overview, entry }: { task: string; overview: AutonomyOverview; entry: SiteAutonomy }) {
  const { isAdmin } = useAuth();
  const [dialog, setDialog] = useState<{ level: AutonomyLevel; threshold: number | null } | null>(null);
  const e = entry.evidence;
  const recommended = changeRecommended(entry);
  return (
    <section className="panel" aria-labelledby="level-title" data-testid="current-level">
      <h2 id="level-title">
        {siteName(entry.site)}: <AutonomyBadge level={entry.level} />
      </h2>
      <div className="level-grid">
        <dl className="facts">
          <dt>In force</dt>
          <dd>{levelText(entry)}</dd>
          <dt>Set by</dt>
          <dd>
            {entry.level_source === "default" ? "default" : entry.level_source === ALL && entry.site !== ALL ? "the task-wide level" : (entry.changed_by ?? "–")}
            {entry.changed_at && <span className="muted small"> {formatDate(entry.changed_at)}</span>}
          </dd>
          {entry.reason && (
            <>
              <dt>Reason</dt>
              <dd>{entry.reason}</dd>
            </>
          )}
          <dt>Audit fraction</dt>
          <dd>{pct(entry.audit_fraction, 0)} of automatic answers</dd>
          <dt>Model</dt>
          <dd className="mono">{entry.model_version ?? "–"}</dd>
        </dl>
        <dl className="facts">
          <dt>Verdicts</dt>
          <dd>
            {e.verdicts} <span className="muted small">(at least {overview.min_verdicts} needed)</span>
          </dd>
          <dt>Agreement</dt>
          <dd>
            {proportionText(e.agreement)} <span className="muted small">target {pct(overview.target, 0)}</span>
          </dd>
          <dt>Above the threshold</dt>
          <dd>{proportionText(e.above_threshold)}</dd>
          <dt>Threshold meeting the target</dt>
          <dd>{e.threshold_meeting_target === null ? "none yet" : `confidence ≥ ${e.threshold_meeting_target}`}</dd>
          <dt>Audited agreement</dt>
          <dd>{proportionText(e.audited)}</dd>
          <dt>Input drift</dt>
          <dd>
            <DriftText entry={entry} />
          </dd>
        </dl>
      </div>
      <div className={`recommendation${recommended ? " changed" : ""}`} data-testid="recommendation">
        <p>
          <strong>Recommended: {levelText(entry.recommendation)}</strong>
          {!recommended && <span className="muted"> (as in force)</span>}
        </p>
        <p className="small">{entry.recommendation.reason}</p>
        {isAdmin ? (
          <div className="actions">
            {recommended && (
              <button type="button" className="button primary" onClick={() => setDialog({ level: entry.recommendation.level, threshold: entry.recommendation.confidence_threshold })}>
                Apply recommendation…
              </button>
            )}
            <button type="button" className="button" onClick={() => setDialog({ level: entry.level, threshold: entry.confidence_threshold ?? entry.recommendation.confidence_threshold ?? e.threshold_meeting_target })}>
              Change level…
            </button>
          </div>
        ) : (
          <p className="muted small">Administrators apply changes; lowering is always allowed, raising only as far as the evidence recommends.</p>
        )}
      </div>
      {dialog && <ApplyDialog task={task} target={overview.target} entry={entry} initial={dialog} onClose={() => setDialog(null)} />}
    </section>
  );
}

function DriftText({ entry }: { entry: SiteAutonomy }) {
  const d = entry.drift;
  if (d.score === null) return <span className="muted">not measured ({d.recent_images} recent images)</span>;
  return (
    <span className={d.drifted ? "danger" : undefined}>
      PSI {d.score.toFixed(3)} vs {d.threshold} {d.drifted ? "— drifted" : "— stable"}{" "}
      <span className="muted small">
        ({d.recent_images} recent images vs {d.reference === "site" ? "this site's" : d.reference === "all" ? "all" : "no"} training data)
      </span>
    </span>
  );
}

export function ApplyDialog({
  task,
  target,
  entry,
  initial,
  onClose,
}: {
  task: string;
  target: number;
  entry: SiteAutonomy;
  initial: { level: AutonomyLevel; threshold: number | null };
  onClose: () => void;
}) {
  const change = useChangeAutonomy(task);
  const [level, setLevel] = useState<AutonomyLevel>(initial.level);
  const [threshold, setThreshold] = useState(initial.threshold === null ? "" : String(initial.threshold));
  const ids = { level: useId(), threshold: useId() };
  const e = entry.evidence;
  const semi = level === "semi_autonomous";
  return (
    <ConfirmDialog
      title={`Autonomy for ${siteName(entry.site)}`}
      confirmLabel={`Set ${levelName(level).toLowerCase()}`}
      askReason
      busy={change.isPending}
      error={change.error}
      onCancel={onClose}
      onConfirm={(reason) =>
        change.mutate(
          {
            site: entry.site,
            level,
            confidence_threshold: semi && threshold !== "" ? Number(threshold) : null,
            reason,
          },
          { onSuccess: onClose },
        )
      }
    >
      <p>
        In force: <strong>{levelText(entry)}</strong>. Recommended: <strong>{levelText(entry.recommendation)}</strong> — {entry.recommendation.reason}
      </p>
      <ul className="evidence-list">
        <li>
          {e.verdicts} verdicts on <span className="mono">{entry.model_version ?? "–"}</span>; agreement {proportionText(e.agreement)}, target {pct(target, 0)}
        </li>
        <li>Sensitivity {proportionText(e.sensitivity)}; specificity {proportionText(e.specificity)}</li>
        <li>
          Calibration error {formatNumber(e.calibration_error)}; audited agreement {proportionText(e.audited)}
        </li>
        <li>
          Input drift: <DriftText entry={entry} />
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
        <div className="field">
          <label htmlFor={ids.threshold}>Confidence threshold (answers at or above it are final)</label>
          <input id={ids.threshold} type="number" min={0.5} max={1} step={0.005} value={threshold} onChange={(event) => setThreshold(event.target.value)} />
        </div>
      )}
    </ConfirmDialog>
  );
}

function SiteTable({ overview, selected, onSelect }: { overview: AutonomyOverview; selected: string; onSelect: (site: string) => void }) {
  return (
    <section className="panel" aria-labelledby="sites-title">
      <h2 id="sites-title">Per site</h2>
      <div className="table-wrap">
        <table className="table" data-testid="site-table">
          <thead>
            <tr>
              <th scope="col">Site</th>
              <th scope="col">Level</th>
              <th scope="col" className="num">Verdicts</th>
              <th scope="col">Agreement (95% CI)</th>
              <th scope="col">Sensitivity</th>
              <th scope="col">Specificity</th>
              <th scope="col" className="num">Calibration error</th>
              <th scope="col">Drift (PSI vs threshold)</th>
              <th scope="col">Recommendation</th>
            </tr>
          </thead>
          <tbody>
            {overview.sites.map((entry) => {
              const e = entry.evidence;
              return (
                <tr key={entry.site} data-site={entry.site} aria-current={entry.site === selected ? "true" : undefined}>
                  <th scope="row">
                    <button type="button" className="link" onClick={() => onSelect(entry.site)} aria-label={`Show ${siteName(entry.site)}`}>
                      {siteName(entry.site)}
                    </button>
                  </th>
                  <td>
                    <AutonomyBadge level={entry.level} />
                    {entry.level === "semi_autonomous" && entry.confidence_threshold !== null && <span className="small"> ≥ {entry.confidence_threshold}</span>}
                  </td>
                  <td className="num">{e.verdicts}</td>
                  <td>
                    <Interval p={e.agreement} target={overview.target} />
                  </td>
                  <td>
                    <Interval p={e.sensitivity} />
                  </td>
                  <td>
                    <Interval p={e.specificity} />
                  </td>
                  <td className="num">{formatNumber(e.calibration_error)}</td>
                  <td>
                    {entry.drift.score === null ? (
                      <span className="muted">–</span>
                    ) : (
                      <span className={entry.drift.drifted ? "danger" : undefined}>
                        {entry.drift.score.toFixed(3)} / {entry.drift.threshold}
                        {entry.drift.drifted && " drifted"}
                      </span>
                    )}
                  </td>
                  <td title={entry.recommendation.reason}>
                    {changeRecommended(entry) ? <strong>{levelText(entry.recommendation)}</strong> : <span className="muted">keep</span>}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** A rate with its interval drawn as a small bar (0–100%), the target as a tick. */
function Interval({ p, target }: { p: Proportion | null | undefined; target?: number }) {
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
        {target !== undefined && <span className="interval-target" style={{ left: `${target * 100}%` }} />}
      </span>
    </span>
  );
}
