// Administrators: each task's model versions (status, lineage, metrics per evaluation set, training
// data), its training jobs with live progress, and start training / promote / roll back.
import { useEffect, useId, useState } from "react";
import { useSearchParams } from "react-router";
import type { ModelVersion, Task } from "../api/client";
import { usePromote, useRollback, useStartTraining, useTaskModels, useTasks } from "../api/queries";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Empty, ErrorState, formatDate, formatNumber, Loading } from "../components/States";
import { MetricsTable } from "./models/MetricsTable";
import { TrainingJobs } from "./models/TrainingJobs";
import { VersionDetail } from "./models/VersionDetail";

export function Models() {
  const tasks = useTasks();
  const [params, setParams] = useSearchParams();
  const taskId = useId();
  if (tasks.isPending) return <Loading what="tasks" />;
  if (tasks.isError) return <ErrorState error={tasks.error} what="the tasks" onRetry={() => void tasks.refetch()} />;
  if (tasks.data.length === 0) return <Empty>No tasks are configured.</Empty>;
  const task = tasks.data.find((t) => t.name === params.get("task")) ?? tasks.data[0]!;
  return (
    <div className="page">
      <div className="page-head">
        <h1>Models</h1>
        <div className="field inline">
          <label htmlFor={taskId}>Task</label>
          <select id={taskId} value={task.name} onChange={(e) => setParams({ task: e.target.value })}>
            {tasks.data.map((t) => (
              <option key={t.name} value={t.name}>
                {t.title}
              </option>
            ))}
          </select>
        </div>
      </div>
      <TaskModels key={task.name} task={task} />
    </div>
  );
}

type Change = { kind: "promote"; version: ModelVersion } | { kind: "rollback" } | { kind: "train" };

function TaskModels({ task }: { task: Task }) {
  const versions = useTaskModels(task.name);
  const [selected, setSelected] = useState<string | null>(null);
  const [change, setChange] = useState<Change | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const promote = usePromote(task.name);
  const rollback = useRollback(task.name);
  const train = useStartTraining(task.name);

  useEffect(() => {
    if (!selected && task.active_version) setSelected(task.active_version);
  }, [selected, task.active_version]);

  const list = versions.data ?? [];
  const active = list.find((v) => v.status === "active") ?? null;
  const previous = [...list]
    .filter((v) => v.status === "retired" && v.activated_at)
    .sort((a, b) => (b.activated_at ?? "").localeCompare(a.activated_at ?? ""))[0];

  const close = () => {
    setChange(null);
    promote.reset();
    rollback.reset();
    train.reset();
  };

  return (
    <>
      <section className="panel" aria-labelledby="task-title">
        <div className="panel-head">
          <h2 id="task-title">{task.title}</h2>
          <div className="actions">
            <button type="button" className="button primary" onClick={() => setChange({ kind: "train" })}>
              Start training…
            </button>
            <button type="button" className="button" onClick={() => setChange({ kind: "rollback" })} disabled={!active?.parent && !previous}>
              Roll back…
            </button>
          </div>
        </div>
        <p className="muted">
          {task.description} Labels: {task.labels.join(", ")}. Active version:{" "}
          <strong className="mono">{task.active_version ?? "none"}</strong>.
        </p>
        {notice && (
          <p className="ok" role="status">
            {notice}
          </p>
        )}
        {versions.isPending ? (
          <Loading what="model versions" />
        ) : versions.isError ? (
          <ErrorState error={versions.error} what="model versions" onRetry={() => void versions.refetch()} />
        ) : list.length === 0 ? (
          <Empty>No model version is registered for this task.</Empty>
        ) : (
          <VersionsTable versions={list} selected={selected} onSelect={setSelected} onPromote={(version) => setChange({ kind: "promote", version })} />
        )}
      </section>
      <div className="two-columns">
        {selected && <VersionDetail version={selected} onSelect={setSelected} />}
        <TrainingJobs task={task.name} onSelectVersion={setSelected} />
      </div>
      {change?.kind === "promote" && (
        <ConfirmDialog
          title={`Promote ${change.version.id}?`}
          confirmLabel="Promote"
          askReason
          busy={promote.isPending}
          error={promote.error}
          onCancel={close}
          onConfirm={(reason) =>
            promote.mutate(
              { version: change.version.id, reason },
              {
                onSuccess: (version) => {
                  setNotice(`${version.id} is now the active version.`);
                  close();
                },
              },
            )
          }
        >
          <p>
            <strong className="mono">{change.version.id}</strong> will answer every new prediction for {task.title}
            {active ? (
              <>
                ; <span className="mono">{active.id}</span> is retired (and can be rolled back to).
              </>
            ) : (
              "."
            )}{" "}
            This overrides the promotion gate.
          </p>
          <MetricsTable versions={[change.version, ...(active ? [active] : [])]} />
        </ConfirmDialog>
      )}
      {change?.kind === "rollback" && (
        <ConfirmDialog
          title={`Roll back ${task.title}?`}
          confirmLabel="Roll back"
          askReason
          busy={rollback.isPending}
          error={rollback.error}
          onCancel={close}
          onConfirm={(reason) =>
            rollback.mutate(
              { reason },
              {
                onSuccess: (version) => {
                  setNotice(`Rolled back: ${version.id} is the active version again.`);
                  close();
                },
              },
            )
          }
        >
          <p>
            The active version <strong className="mono">{active?.id ?? "–"}</strong> is retired and the version it replaced
            {previous ? (
              <>
                {" "}
                (<strong className="mono">{previous.id}</strong>)
              </>
            ) : null}{" "}
            answers again.
          </p>
          <MetricsTable versions={[...(active ? [active] : []), ...(previous ? [previous] : [])]} />
        </ConfirmDialog>
      )}
      {change?.kind === "train" && (
        <ConfirmDialog
          title={`Start training ${task.title}?`}
          confirmLabel="Start training"
          busy={train.isPending}
          error={train.error}
          onCancel={close}
          onConfirm={() =>
            train.mutate(undefined, {
              onSuccess: () => {
                setNotice("Training job queued; a worker picks it up.");
                close();
              },
            })
          }
        >
          <p>
            A worker fine-tunes <span className="mono">{task.active_version ?? "the active version"}</span> on the verified cases
            (with replay of its source data), then compares the candidate with it on the sequestered cases and the source test
            set. The candidate is promoted only if it is better on the first and not worse on the second.
          </p>
          {active && <MetricsTable versions={[active]} />}
        </ConfirmDialog>
      )}
    </>
  );
}

function VersionsTable({
  versions,
  selected,
  onSelect,
  onPromote,
}: {
  versions: ModelVersion[];
  selected: string | null;
  onSelect: (id: string) => void;
  onPromote: (version: ModelVersion) => void;
}) {
  const sets = Array.from(new Set(versions.flatMap((v) => Object.keys(v.metrics ?? {}))));
  return (
    <div className="table-wrap">
      <table className="table" data-testid="model-versions">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Parent</th>
            <th scope="col">Created</th>
            {sets.map((set) => (
              <th scope="col" key={set} className="num" title={`AUC on ${set} (n)`}>
                AUC {set}
              </th>
            ))}
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {[...versions].reverse().map((version) => (
            <tr key={version.id} aria-selected={selected === version.id} className={selected === version.id ? "selected" : undefined}>
              <td className="mono">
                <button type="button" className="link" onClick={() => onSelect(version.id)} aria-label={`Details of ${version.id}`}>
                  {version.id}
                </button>
              </td>
              <td>
                <span className={`status status-${version.status}`}>{version.status}</span>
              </td>
              <td className="mono">{version.parent ?? <span className="muted">base</span>}</td>
              <td>{formatDate(version.created_at)}</td>
              {sets.map((set) => {
                const metrics = (version.metrics as Record<string, Record<string, unknown> | undefined>)[set];
                return (
                  <td key={set} className="num">
                    {metrics ? (
                      <>
                        {formatNumber(metrics.auc)} <span className="muted small">n={String(metrics.n ?? "?")}</span>
                      </>
                    ) : (
                      <span className="muted">–</span>
                    )}
                  </td>
                );
              })}
              <td>
                {version.status !== "active" && (
                  <button type="button" className="button small" onClick={() => onPromote(version)}>
                    Promote…
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

