// Administrators: each task's model versions (status, lineage, metrics per evaluation set, training
// data, the sites they serve), what serves each site and at which threshold, its training jobs with live
// progress, and start training / promote / roll back, for the task's default or one site.
import { useEffect, useId, useState } from "react";
import { useSearchParams } from "react-router";
import type { ModelVersion, SiteServing, Task } from "../api/client";
import { useTaskModels, useTasks } from "../api/queries";
import { ServesBadges } from "../components/Badges";
import { Empty, ErrorState, formatDate, formatNumber, Loading } from "../components/States";
import { PromoteDialog, RollbackDialog, RollbackSiteDialog, rollbackTarget, TrainDialog } from "./models/ChangeDialogs";
import { SiteServingTable } from "./models/SiteServing";
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

type Change =
  | { kind: "promote"; version: ModelVersion }
  | { kind: "rollback" }
  | { kind: "rollback-site"; site: SiteServing }
  | { kind: "train" };

function TaskModels({ task }: { task: Task }) {
  const versions = useTaskModels(task.name);
  const [selected, setSelected] = useState<string | null>(null);
  const [change, setChange] = useState<Change | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    if (!selected && task.default_version) setSelected(task.default_version);
  }, [selected, task.default_version]);

  const list = versions.data ?? [];
  const { active, previous } = rollbackTarget(list);
  const close = () => setChange(null);
  const done = (message: string) => {
    setNotice(message);
    setChange(null);
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
          {task.description} Labels: {task.labels.join(", ")}. Default version:{" "}
          <strong className="mono">{task.default_version ?? "none"}</strong>.
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
      <SiteServingTable task={task} onRollbackSite={(site) => setChange({ kind: "rollback-site", site })} />
      <div className="two-columns">
        {selected && (
          <VersionDetail version={selected} onSelect={setSelected} onPromote={(version) => setChange({ kind: "promote", version })} />
        )}
        <TrainingJobs task={task.name} onSelectVersion={setSelected} />
      </div>
      {change?.kind === "promote" && <PromoteDialog task={task} version={change.version} versions={list} onDone={done} onCancel={close} />}
      {change?.kind === "rollback" && <RollbackDialog task={task} versions={list} onDone={done} onCancel={close} />}
      {change?.kind === "rollback-site" && (
        <RollbackSiteDialog task={task} site={change.site} versions={list} onDone={done} onCancel={close} />
      )}
      {change?.kind === "train" && <TrainDialog task={task} versions={list} onDone={done} onCancel={close} />}
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
            <th scope="col">Serves</th>
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
              <td>
                <ServesBadges version={version} />
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
                {version.status !== "rejected" && (
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
