import type { TrainingJob } from "../../api/client";
import { useCancelTraining, useTrainingJobs } from "../../api/queries";
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

/** The gate's comparison: AUC of the active version and the candidate on each evaluation. */
function Evaluation({ evaluation }: { evaluation: unknown }) {
  const rows = (["sequestered", "source_test"] as const)
    .map((key) => [key, asDict(asDict(evaluation)[key])] as const)
    .filter(([, pair]) => pair.active || pair.candidate);
  if (rows.length === 0) return null;
  return (
    <table className="table compact">
      <thead>
        <tr>
          <th scope="col">Evaluation</th>
          <th scope="col" className="num">
            Active AUC
          </th>
          <th scope="col" className="num">
            Candidate AUC
          </th>
          <th scope="col" className="num">
            n
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([key, pair]) => (
          <tr key={key}>
            <th scope="row">{key.replace("_", " ")}</th>
            <td className="num">{formatNumber(asDict(pair.active).auc)}</td>
            <td className="num">{formatNumber(asDict(pair.candidate).auc)}</td>
            <td className="num">{String(asDict(pair.candidate).n ?? "–")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
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
                    {job.trigger} · {job.requested_by ?? "automatic"} · {formatDate(job.created_at)}
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
                      <span className={`decision decision-${job.decision}`}> {job.decision.replace("_", " ")}</span>
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
