import type { TrainingJob } from "../../api/client";
import { useCancelTraining, useTrainingJobs } from "../../api/queries";
import { formatThreshold } from "../../components/Badges";
import { Empty, ErrorState, ErrorText, formatDate, formatNumber, Loading } from "../../components/States";

type Dict = Record<string, unknown>;
const asDict = (value: unknown): Dict => (value && typeof value === "object" ? (value as Dict) : {});

function Progress({ job }: { job: TrainingJob }) {
  const progress = asDict(job.progress);
  const stage =
    job.status === "queued" ? "queued: waiting for a worker" : typeof progress.stage === "string" ? progress.stage : job.status;
  const epoch = typeof progress.epoch === "number" ? progress.epoch : null;
  const epochs = typeof progress.epochs === "number" ? progress.epochs : null;
  return (
    <div className="job-progress">
      <span>{stage}</span>
      {epoch !== null && epochs !== null && (
        <>
          <progress max={epochs} value={epoch} aria-label={`Epoch ${epoch} of ${epochs}`} />
          <span className="small muted">
            epoch {epoch}/{epochs}
            {typeof progress.val_auc === "number" && ` · val AUC ${formatNumber(progress.val_auc)}`}
            {typeof progress.train_loss === "number" && ` · loss ${formatNumber(progress.train_loss)}`}
          </span>
        </>
      )}
    </div>
  );
}

/** One paired comparison of the candidate with the version it would replace, on one set of cases
 * (`services/gate.py`, `ml/comparison.py`; the schema leaves `evaluation` an open object). */
export interface GateComparison {
  cases: string;
  n: number;
  patients: number;
  counts_per_label: Record<string, number>;
  active_auc: number | null;
  candidate_auc: number | null;
  auc_difference: number | null;
  difference_ci95: [number, number] | null;
  probability_better: number | null;
  active_threshold: number | null;
  candidate_threshold: number | null;
  active_sensitivity: number | null;
  candidate_sensitivity: number | null;
  active_specificity: number | null;
  candidate_specificity: number | null;
}

export interface GateEvaluation {
  promote_for_site: boolean;
  promote_as_default: boolean;
  reason: string;
  site: string | null;
  target: GateComparison | null;
  others: GateComparison[];
  policy: { noninferiority_margin?: number; superiority_confidence?: number; sensitivity_margin?: number; min_sequestered?: number };
  looks: number;
}

const isComparison = (value: unknown): value is GateComparison =>
  typeof asDict(value).cases === "string" && typeof asDict(value).n === "number";

/** The gate's decision, or null for a job that has none (or one in a shape this app does not know). */
export function gateEvaluation(evaluation: unknown): GateEvaluation | null {
  const e = asDict(evaluation);
  const others = Array.isArray(e.others) ? e.others.filter(isComparison) : [];
  const target = isComparison(e.target) ? e.target : null;
  if (!target && others.length === 0) return null;
  return {
    promote_for_site: e.promote_for_site === true,
    promote_as_default: e.promote_as_default === true,
    reason: typeof e.reason === "string" ? e.reason : "",
    site: typeof e.site === "string" ? e.site : null,
    target,
    others,
    policy: asDict(e.policy),
    looks: typeof e.looks === "number" ? e.looks : 1,
  };
}

const signed = (value: number | null | undefined) => (typeof value === "number" ? `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(3)}` : "–");
const pct = (value: number | null | undefined, digits = 1) => (typeof value === "number" ? `${(value * 100).toFixed(digits)}%` : "–");

/** "85.0% → 90.0% (at 0.42 → 0.31)": sensitivity of each version at the threshold it would serve. */
function SensitivityChange({ comparison: c }: { comparison: GateComparison }) {
  if (c.active_sensitivity === null && c.candidate_sensitivity === null) return <span className="muted">–</span>;
  const at = (threshold: number | null) => (threshold === null ? "–" : formatThreshold(threshold));
  return (
    <>
      <span className="nowrap">
        {pct(c.active_sensitivity)} → {pct(c.candidate_sensitivity)}
      </span>{" "}
      {(c.active_threshold !== null || c.candidate_threshold !== null) && (
        <span className="muted small nowrap">
          (at {at(c.active_threshold)} → {at(c.candidate_threshold)})
        </span>
      )}
    </>
  );
}

function ComparisonRow({ comparison, target }: { comparison: GateComparison; target?: boolean }) {
  const c = comparison;
  const interval = c.difference_ci95;
  return (
    <tr data-cases={c.cases} className={target ? "gate-target" : undefined}>
      <th scope="row">
        {c.cases}
        {target && <span className="badge">target</span>}
      </th>
      <td className="num" title={Object.entries(c.counts_per_label ?? {}).map(([label, n]) => `${n} ${label}`).join(", ")}>
        {c.n} <span className="muted small">({c.patients} patients)</span>
      </td>
      <td className="num">{formatNumber(c.active_auc)}</td>
      <td className="num">{formatNumber(c.candidate_auc)}</td>
      <td className="num">
        {signed(c.auc_difference)}
        {interval && (
          <>
            {" "}
            <span className="muted small nowrap">
              ({signed(interval[0])} to {signed(interval[1])})
            </span>
          </>
        )}
      </td>
      <td className="num">{pct(c.probability_better, 0)}</td>
      <td title={`Specificity ${pct(c.active_specificity)} → ${pct(c.candidate_specificity)}`}>
        <SensitivityChange comparison={c} />
      </td>
    </tr>
  );
}

/** The gate's comparisons: the candidate against the version it would replace, paired by patient, on the
 * job's site (the target) and on every other set it must not be worse on. */
function Evaluation({ evaluation }: { evaluation: unknown }) {
  const gate = gateEvaluation(evaluation);
  if (!gate) return null;
  const p = gate.policy;
  return (
    <div className="gate table-wrap" data-testid="gate-comparisons">
      <table className="table compact">
        <caption className="small muted">
          Candidate vs active, paired by patient: AUC difference with its 95% interval, the share of patient resamples in which
          the candidate is better, sensitivity at each version's threshold.
        </caption>
        <thead>
          <tr>
            <th scope="col">Set</th>
            <th scope="col" className="num">
              n
            </th>
            <th scope="col" className="num">
              Active AUC
            </th>
            <th scope="col" className="num">
              Candidate AUC
            </th>
            <th scope="col" className="num">
              Difference (95% CI)
            </th>
            <th scope="col" className="num">
              P(better)
            </th>
            <th scope="col">Sensitivity active → candidate</th>
          </tr>
        </thead>
        <tbody>
          {gate.target && <ComparisonRow comparison={gate.target} target />}
          {gate.others.map((comparison) => (
            <ComparisonRow key={comparison.cases} comparison={comparison} />
          ))}
        </tbody>
      </table>
      <p className="small muted" data-testid="gate-looks">
        Looks: {gate.looks} {gate.looks === 1 ? "comparison" : "comparisons"} on {gate.site ? `site ${gate.site}'s` : "the"} sequestered
        cases so far, this one included.
        {typeof p.superiority_confidence === "number" &&
          ` Policy: better in at least ${pct(p.superiority_confidence, 0)} of resamples, AUC no more than ${p.noninferiority_margin ?? "–"} worse` +
            ` elsewhere, sensitivity no more than ${p.sensitivity_margin ?? "–"} lower, at least ${p.min_sequestered ?? "–"} sequestered cases.`}
      </p>
    </div>
  );
}

/** "promoted for site nih", "promoted for site nih and as the default", "promoted as the default",
 * "held back". */
function decisionText(job: TrainingJob): string {
  if (!job.decision) return "";
  const gate = gateEvaluation(job.evaluation);
  if (job.decision !== "promoted" || !gate) return job.decision.replace("_", " ");
  const scopes = [
    ...(gate.promote_for_site && gate.site ? [`for site ${gate.site}`] : []),
    ...(gate.promote_as_default ? ["as the default"] : []),
  ];
  return ["promoted", scopes.join(" and ")].filter(Boolean).join(" ");
}

function trainingSummary(job: TrainingJob): string | null {
  const counts = asDict(asDict(job.training_set).counts);
  const entries = Object.entries(counts);
  if (entries.length === 0) return null;
  return entries
    .map(([site, labels]) => `${site}: ${Object.entries(asDict(labels)).map(([label, n]) => `${n} ${label}`).join(", ")}`)
    .join("; ");
}

export function TrainingJobs({ task, onSelectVersion }: { task: string; onSelectVersion: (id: string) => void }) {
  const jobs = useTrainingJobs(task);
  const cancel = useCancelTraining(task);
  return (
    <section className="panel" aria-labelledby="jobs-title" data-testid="training-jobs">
      <h2 id="jobs-title">Training jobs</h2>
      {jobs.isPending ? (
        <Loading what="training jobs" />
      ) : jobs.isError ? (
        <ErrorState error={jobs.error} what="training jobs" onRetry={() => void jobs.refetch()} />
      ) : jobs.data.length === 0 ? (
        <Empty>No training job yet. Start one when clinicians have verified enough cases.</Empty>
      ) : (
        <ol className="jobs">
          {jobs.data.map((job) => {
            const summary = trainingSummary(job);
            const open = job.status === "queued" || job.status === "running";
            return (
              <li key={job.id} className={`job job-${job.status}`} data-job-status={job.status}>
                <div className="job-head">
                  <span className={`status status-${job.status}`}>{job.status}</span>
                  <span className="small muted">
                    {job.site ? `site ${job.site}` : "every site"} · {job.trigger} · {job.requested_by ?? "automatic"} ·{" "}
                    {formatDate(job.created_at)}
                  </span>
                  {open && (
                    <button
                      type="button"
                      className="button small"
                      onClick={() => cancel.mutate(job.id)}
                      disabled={cancel.isPending || job.cancel_requested}
                    >
                      {job.cancel_requested ? "Cancelling…" : "Cancel"}
                    </button>
                  )}
                </div>
                <Progress job={job} />
                {summary && <p className="small">Verified cases for training: {summary}</p>}
                {job.candidate_version && (
                  <p className="small">
                    Candidate{" "}
                    <button type="button" className="link mono" onClick={() => onSelectVersion(job.candidate_version!)}>
                      {job.candidate_version}
                    </button>
                    {job.decision && (
                      <span className={`decision decision-${job.decision}`}> {decisionText(job)}</span>
                    )}
                  </p>
                )}
                {job.decision_reason && <p className="decision-reason">{job.decision_reason}</p>}
                <Evaluation evaluation={job.evaluation} />
                {job.error && (
                  <p className="form-error" role="alert">
                    {job.error}
                  </p>
                )}
              </li>
            );
          })}
        </ol>
      )}
      {cancel.isError && (
        <p className="form-error" role="alert">
          <ErrorText error={cancel.error} />
        </p>
      )}
    </section>
  );
}
