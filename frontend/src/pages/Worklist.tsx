import { useEffect, useId, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import type { PredictionStatus } from "../api/client";
import { usePredictions, useTasks } from "../api/queries";
import { Empty, ErrorState, formatDate, Loading, Percent } from "../components/States";
import { filtersFrom, PAGE_SIZE, paramsFrom, STATUSES } from "./worklistParams";

export function Worklist() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFrom(params);
  const tasks = useTasks();
  const list = usePredictions(filters);
  const navigate = useNavigate();
  const ids = { task: useId(), site: useId(), status: useId() };
  const [site, setSite] = useState(filters.site ?? "");
  useEffect(() => setSite(filters.site ?? ""), [filters.site]);

  const update = (change: Partial<typeof filters>) => setParams(paramsFrom({ ...filters, offset: 0, ...change }));
  const query = paramsFrom(filters).toString();
  const caseLink = (id: string) => `/cases/${id}${query ? `?${query}` : ""}`;
  const items = list.data?.items ?? [];
  const total = list.data?.total ?? 0;
  const offset = filters.offset ?? 0;

  return (
    <div className="page">
      <div className="page-head">
        <h1>Worklist</h1>
        {list.data && (
          <p className="muted" data-testid="worklist-count" aria-live="polite">
            {total} {total === 1 ? "case" : "cases"}
          </p>
        )}
        {items.length > 0 && (
          <button type="button" className="button primary" onClick={() => navigate(caseLink(items[0]!.id))}>
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
      </form>
      {list.isPending ? (
        <Loading what="the worklist" />
      ) : list.isError ? (
        <ErrorState error={list.error} what="the worklist" onRetry={() => void list.refetch()} />
      ) : items.length === 0 ? (
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
                <th scope="col">Received</th>
                <th scope="col">Task</th>
                <th scope="col">Site</th>
                <th scope="col">AI label</th>
                <th scope="col" className="num">Confidence</th>
                <th scope="col" className="num">Uncertainty</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.id} data-prediction-id={item.id}>
                  <td>
                    <Link to={caseLink(item.id)}>{formatDate(item.created_at)}</Link>
                  </td>
                  <td>{item.task}</td>
                  <td>{item.site ?? <span className="muted">–</span>}</td>
                  <td>
                    <span className={`label-chip label-${item.predicted_label}`}>{item.predicted_label}</span>
                  </td>
                  <td className="num">
                    <Percent value={item.confidence} />
                  </td>
                  <td className="num">{item.uncertainty.toFixed(2)}</td>
                  <td className="mono">{item.model_version}</td>
                  <td>
                    <span className={`status status-${item.status}`}>{item.status.replace("_", " ")}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {total > PAGE_SIZE && (
            <nav className="pager" aria-label="Pages">
              <button type="button" className="button" disabled={offset === 0} onClick={() => update({ offset: Math.max(0, offset - PAGE_SIZE) })}>
                Previous page
              </button>
              <span className="muted">
                {offset + 1}–{Math.min(offset + PAGE_SIZE, total)} of {total}
              </span>
              <button type="button" className="button" disabled={offset + PAGE_SIZE >= total} onClick={() => update({ offset: offset + PAGE_SIZE })}>
                Next page
              </button>
            </nav>
          )}
        </>
      )}
    </div>
  );
}
