import { useEffect, useId, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import type { AutonomyLevel, PredictionStatus } from "../api/client";
import { useQueue, useTasks, type QueueRow, type WorklistFilters } from "../api/queries";
import { AutonomyBadge, FinalityBadges, ReasonBadge } from "../components/Badges";
import { Empty, ErrorState, formatDate, Loading } from "../components/States";
import { AnswerCells } from "../components/AnswerCells";
import { Pager } from "../components/Pager";
import { filtersFrom, LEVELS, PAGE_SIZE, paramsFrom, STATUSES } from "./worklistParams";

/** The worklist's filters from the address, with the grouping (`group=study`; absent: one row per case). */
function worklistFiltersFrom(params: URLSearchParams): WorklistFilters {
  return { ...filtersFrom(params), group: params.get("group") === "study" ? "study" : undefined };
}

/** The address of these filters; `group=study` only for the worklist proper (other statuses list
 * predictions, one per case). It travels to the case view and back with the other filters. */
function worklistParamsFrom(filters: WorklistFilters): URLSearchParams {
  const params = paramsFrom(filters);
  if (filters.group === "study" && filters.status === "pending_review") params.set("group", "study");
  return params;
}

/** The parts of the priority, as the API weighs them (see GET /api/v1/worklist). */
const COMPONENTS = [
  { key: "uncertainty", label: "Uncertainty", weight: 0.5 },
  { key: "disagreement_risk", label: "Disagreement risk", weight: 0.3 },
  { key: "waiting", label: "Waiting", weight: 0.2 },
] as const;

export function Worklist() {
  const [params, setParams] = useSearchParams();
  const filters = worklistFiltersFrom(params);
  const tasks = useTasks();
  const list = useQueue(filters);
  const navigate = useNavigate();
  const ids = { task: useId(), site: useId(), status: useId(), level: useId() };
  const [site, setSite] = useState(filters.site ?? "");
  useEffect(() => setSite(filters.site ?? ""), [filters.site]);

  const waiting = filters.status === "pending_review";
  const byStudy = waiting && filters.group === "study";
  const update = (change: Partial<typeof filters>) => setParams(worklistParamsFrom({ ...filters, offset: 0, ...change }));
  const query = worklistParamsFrom(filters).toString();
  const caseLink = (id: string) => `/cases/${id}${query ? `?${query}` : ""}`;
  const rows = list.data?.rows ?? [];
  const total = list.data?.total ?? 0;
  const offset = filters.offset ?? 0;

  return (
    <div className="page">
      <div className="page-head">
        <h1>Worklist</h1>
        {list.data && (
          <p className="muted" data-testid="worklist-count" aria-live="polite">
            {byStudy ? (
              <>
                {total} {total === 1 ? "row" : "rows"} (a study's cases as one)
              </>
            ) : (
              <>
                {total} {total === 1 ? "case" : "cases"}
              </>
            )}
            {waiting ? ", most informative first" : ", newest first"}
          </p>
        )}
        {rows.length > 0 && (
          <button type="button" className="button primary" onClick={() => navigate(caseLink(rows[0]!.prediction.id))}>
            Start reading
          </button>
        )}
      </div>
      <form className="filters" onSubmit={(e) => { e.preventDefault(); update({ site: site.trim() || undefined }); }} aria-label="Filters">
        <div className="field">
          <label htmlFor={ids.task}>Task</label>
          <select id={ids.task} value={filters.task ?? ""} onChange={(e) => update({ task: e.target.value || undefined })}>
            <option value="">All tasks</option>
            {tasks.data?.map((task) => (
              <option key={task.name} value={task.name}>
                {task.title}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.site}>Site</label>
          <input id={ids.site} value={site} onChange={(e) => setSite(e.target.value)} onBlur={() => site !== (filters.site ?? "") && update({ site: site.trim() || undefined })} placeholder="Any site" />
        </div>
        <div className="field">
          <label htmlFor={ids.status}>Status</label>
          <select
            id={ids.status}
            value={filters.status ?? ""}
            onChange={(e) => update({ status: (e.target.value || undefined) as PredictionStatus | undefined })}
          >
            {STATUSES.map((status) => (
              <option key={status.value} value={status.value}>
                {status.label}
              </option>
            ))}
          </select>
        </div>
        {waiting && (
          <div className="field">
            <label htmlFor={ids.level}>Autonomy level</label>
            <select id={ids.level} value={filters.level ?? ""} onChange={(e) => update({ level: (e.target.value || undefined) as AutonomyLevel | undefined })}>
              <option value="">Any level</option>
              {LEVELS.map((level) => (
                <option key={level.value} value={level.value}>
                  {level.label}
                </option>
              ))}
            </select>
          </div>
        )}
        {waiting && <GroupToggle group={byStudy ? "study" : "case"} onGroup={(group) => update({ group: group === "study" ? "study" : undefined })} />}
      </form>
      {waiting && (
        <p className="muted small">
          Order: priority = 0.5 × uncertainty + 0.3 × disagreement risk + 0.2 × waiting (a day or more counts
          fully); ties go to the oldest. <em>Audit</em> cases were finalised automatically and drawn for a check.
          A <em>blind read</em> shows no answer until you give your own label.
          {byStudy && " One row per study: its highest-priority case, which opens first; the case view's slice navigator shows its series."}
        </p>
      )}
      {list.isPending ? (
        <Loading what="the worklist" />
      ) : list.isError ? (
        <ErrorState error={list.error} what="the worklist" onRetry={() => void list.refetch()} />
      ) : rows.length === 0 ? (
        <Empty>
          <p>No cases match these filters.</p>
          <p className="muted">
            New cases arrive from hospital systems through the API, or <Link to="/upload">upload images</Link>.
          </p>
        </Empty>
      ) : (
        <>
          <table className="table" data-testid="worklist">
            <thead>
              <tr>
                {waiting && (
                  <th scope="col" className="num">
                    Priority
                  </th>
                )}
                <th scope="col">Received</th>
                <th scope="col">Task</th>
                <th scope="col">Site</th>
                <th scope="col">AI label</th>
                <th scope="col" className="num">Confidence</th>
                <th scope="col" className="num">Uncertainty</th>
                <th scope="col">Level</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const item = row.prediction;
                return (
                  <tr key={item.id} data-prediction-id={item.id} data-priority={row.priority ?? undefined} data-reason={row.reason ?? undefined}>
                    {waiting && (
                      <td className="num">
                        <Priority row={row} />
                      </td>
                    )}
                    <td>
                      <Link to={caseLink(item.id)}>{formatDate(item.created_at)}</Link>
                      {byStudy && row.study_instance_uid && <StudyBadge uid={row.study_instance_uid} cases={row.cases_in_study ?? 1} />}
                    </td>
                    <td>{item.task}</td>
                    <td>{item.site ?? <span className="muted">–</span>}</td>
                    <AnswerCells prediction={item}>
                      <td className="num">{item.uncertainty === null ? <span className="muted">–</span> : item.uncertainty.toFixed(2)}</td>
                    </AnswerCells>
                    <td>
                      <AutonomyBadge level={item.autonomy_level} />
                    </td>
                    <td className="mono">{item.model_version}</td>
                    <td>
                      {row.reason ? (
                        <ReasonBadge reason={row.reason} />
                      ) : (
                        <>
                          <span className={`status status-${item.status}`}>{item.status.replace("_", " ")}</span>
                          <FinalityBadges prediction={item} />
                        </>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <Pager offset={offset} pageSize={PAGE_SIZE} total={total} onOffset={(next) => update({ offset: next })} />
        </>
      )}
    </div>
  );
}

/** "One row per: case | study": a pair of toggle buttons (one pressed), labelled by the legend. */
function GroupToggle({ group, onGroup }: { group: "case" | "study"; onGroup: (group: "case" | "study") => void }) {
  const label = useId();
  return (
    <div className="field">
      <span id={label} className="muted small">
        One row per
      </span>
      <div className="segmented" role="group" aria-labelledby={label}>
        {(["case", "study"] as const).map((value) => (
          <button key={value} type="button" className="button" aria-pressed={group === value} onClick={() => group !== value && onGroup(value)}>
            {value}
          </button>
        ))}
      </div>
    </div>
  );
}

/** On a row standing for a DICOM study: how many of its cases of this task are waiting. */
function StudyBadge({ uid, cases }: { uid: string; cases: number }) {
  return (
    <span className="badge study-group" data-testid="study-group" title={`Study ${uid}: its highest-priority waiting case opens`}>
      Study · {cases} {cases === 1 ? "case" : "cases"}
    </span>
  );
}

/** The priority and its three weighted parts as stacked bars; the numbers are in the title (hover) and
 * in the text read by screen readers. */
function Priority({ row }: { row: QueueRow }) {
  if (row.priority === null) return <span className="muted">–</span>;
  // A blind read's priority would hint at the AI's certainty: its place in the order is all it shows.
  if (row.prediction.answer_hidden || !row.components)
    return (
      <span className="muted" title="Hidden on a blind read: the priority's parts would hint at the AI's answer">
        –<span className="visually-hidden"> (blind read: priority hidden)</span>
      </span>
    );
  const parts = COMPONENTS.map((part) => ({ ...part, value: row.components?.[part.key] ?? 0 }));
  const detail = parts.map((part) => `${part.label} ${part.value.toFixed(2)} × ${part.weight}`).join(", ");
  return (
    <span className="priority" title={`Priority ${row.priority.toFixed(2)} = ${detail}`}>
      <span className="priority-value">{row.priority.toFixed(2)}</span>
      <span className="priority-bars" aria-hidden="true">
        {parts.map((part) => (
          <span key={part.key} className={`priority-bar part-${part.key}`} style={{ width: `${Math.round(part.value * part.weight * 100)}%` }} />
        ))}
      </span>
      <span className="visually-hidden">: {detail}</span>
    </span>
  );
}
