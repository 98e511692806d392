// "Teach the model": the cases waiting for a clinician in the order in which their verdicts would teach
// the model most (GET /api/v1/learning-queue, per task and site), each with why it is there. Not the
// worklist's order: the worklist is for patient care. The task and site live in the address
// (#/learn?task=...&site=...&offset=...).
import { Fragment, useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import type { LearningQueueEntry, LearningStrategy } from "../api/client";
import { useLearningQueue, useTasks } from "../api/queries";
import { AnswerCells } from "../components/AnswerCells";
import { Empty, ErrorState, formatDate, Loading } from "../components/States";
import { Pager } from "../components/Pager";
import { learnCaseLink, learnFiltersFrom, learnParamsFrom, type LearnFilters } from "./learnParams";

export const LEARNING_PAGE_SIZE = 20;

export const STRATEGIES: Record<LearningStrategy, { label: string; title: string }> = {
  random: {
    label: "Random draw",
    title: "Drawn at random: a fixed share of the queue, so what the model learns from (and the gate's evidence) stays unbiased",
  },
  stratified: {
    label: "Estimated error",
    title: "Sampled by how often answers of its predicted label are estimated to be wrong at this site (while the serving version has too little evidence here)",
  },
  uncertain_diverse: {
    label: "Uncertain & diverse",
    title: "Uncertain, and unlike the cases ranked above it (BADGE), once the serving version is informative at this site",
  },
};

export function StrategyBadge({ strategy }: { strategy: LearningStrategy }) {
  const { label, title } = STRATEGIES[strategy] ?? { label: strategy, title: "" };
  return (
    <span className={`badge strategy-${strategy}`} data-testid="strategy" data-strategy={strategy} title={title}>
      {label}
    </span>
  );
}

/** The API's sentence, with `label` names in backticks set as code. */
function Reason({ text }: { text: string }) {
  return (
    <span className="learning-reason" data-testid="learning-reason">
      {text.split("`").map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : <Fragment key={i}>{part}</Fragment>))}
    </span>
  );
}

export function LearningQueue() {
  const [params, setParams] = useSearchParams();
  const filters = learnFiltersFrom(params);
  const tasks = useTasks();
  // A task is required: the first one until another is chosen.
  const task = filters.task ?? tasks.data?.[0]?.name ?? "";
  const queue = useLearningQueue({ task, site: filters.site, limit: LEARNING_PAGE_SIZE, offset: filters.offset });
  const ids = { task: useId(), site: useId() };
  const [site, setSite] = useState(filters.site ?? "");
  useEffect(() => setSite(filters.site ?? ""), [filters.site]);

  const update = (change: Partial<LearnFilters>) => setParams(learnParamsFrom({ ...filters, task: task || undefined, offset: 0, ...change }));
  const scope = learnParamsFrom({ task: task || undefined, site: filters.site, offset: 0 }).toString();
  // The case opens with `from=learn`: its Next/Previous and the move after a verdict follow this queue
  // (same task and site), not the worklist.
  const caseLink = (id: string) => learnCaseLink(id, task || undefined, filters.site);
  const page = queue.data;
  const entries = page?.items ?? [];
  const total = page?.total ?? 0;
  const offset = filters.offset;

  return (
    <div className="page learning">
      <div className="page-head">
        <h1>Teach the model</h1>
        {page && (
          <p className="muted" data-testid="learning-count" aria-live="polite">
            {total} {total === 1 ? "case" : "cases"} waiting
          </p>
        )}
      </div>
      <form className="filters" onSubmit={(e) => { e.preventDefault(); update({ site: site.trim() || undefined }); }} aria-label="Filters">
        <div className="field">
          <label htmlFor={ids.task}>Task</label>
          <select id={ids.task} value={task} disabled={!tasks.data?.length} onChange={(e) => update({ task: e.target.value || undefined })}>
            {tasks.data?.map((one) => (
              <option key={one.name} value={one.name}>
                {one.title}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.site}>Site</label>
          <input id={ids.site} value={site} onChange={(e) => setSite(e.target.value)} onBlur={() => site !== (filters.site ?? "") && update({ site: site.trim() || undefined })} placeholder="Any site" />
        </div>
      </form>
      {page && (
        <p className="learning-intro" data-testid="learning-intro">
          The order in which your verdicts teach the model most. <strong>{Math.round(page.random_share * 100)}%</strong> are drawn at
          random so the evidence stays unbiased; the <Link to={`/worklist${scope ? `?${scope}` : ""}`}>worklist</Link> keeps the
          order for patient care.
        </p>
      )}
      {tasks.isError ? (
        <ErrorState error={tasks.error} what="the tasks" onRetry={() => void tasks.refetch()} />
      ) : tasks.data && tasks.data.length === 0 ? (
        <Empty>
          <p>No tasks are configured yet.</p>
        </Empty>
      ) : !task || queue.isPending ? (
        <Loading what="the learning queue" />
      ) : queue.isError ? (
        <ErrorState error={queue.error} what="the learning queue" onRetry={() => void queue.refetch()} />
      ) : entries.length === 0 ? (
        <Empty>
          <p>No cases are waiting for a verdict{filters.site ? " at this site" : ""}.</p>
          <p className="muted">
            New cases arrive from hospital systems through the API, or <Link to="/upload">upload images</Link>.
          </p>
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="learning-queue">
              <thead>
                <tr>
                  <th scope="col" className="num">
                    Rank
                  </th>
                  <th scope="col">Case</th>
                  <th scope="col">Site</th>
                  <th scope="col">Why it is here</th>
                  <th scope="col">AI label</th>
                  <th scope="col" className="num">Confidence</th>
                  <th scope="col">Scored by</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((entry) => (
                  <Row key={entry.prediction.id} entry={entry} link={caseLink(entry.prediction.id)} />
                ))}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} pageSize={LEARNING_PAGE_SIZE} total={total} onOffset={(next) => update({ offset: next })} />
        </>
      )}
    </div>
  );
}

function Row({ entry, link }: { entry: LearningQueueEntry; link: string }) {
  const item = entry.prediction;
  return (
    <tr data-prediction-id={item.id} data-rank={entry.rank} data-strategy={entry.strategy}>
      <td className="num">{entry.rank}</td>
      <td className="nowrap">
        <Link to={link}>{formatDate(item.created_at)}</Link>
      </td>
      <td className="nowrap">{item.site ?? <span className="muted">–</span>}</td>
      <td className="learning-why">
        <StrategyBadge strategy={entry.strategy} /> <Reason text={entry.reason} />
      </td>
      <AnswerCells prediction={item} />
      <td className="learning-scored">
        {entry.scored_by ? <span className="mono">{entry.scored_by}</span> : <span className="muted">–</span>}
        {entry.stale && (
          <span
            className="badge stale"
            data-testid="stale"
            title="Scored by a version that no longer serves this site: the worker re-scores it shortly, and its place may change"
          >
            re-scoring
          </span>
        )}
      </td>
    </tr>
  );
}
