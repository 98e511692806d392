import { useModelVersion } from "../../api/queries";
import { ErrorState, formatDate, Loading } from "../../components/States";
import { MetricsTable } from "./MetricsTable";

type Json = unknown;

/** Renders a small JSON value (a model card's training-data summary) as nested definition lists. */
function JsonView({ value }: { value: Json }) {
  if (value === null || value === undefined) return <span className="muted">–</span>;
  if (Array.isArray(value)) {
    if (value.every((item) => typeof item !== "object" || item === null)) return <>{value.join(", ")}</>;
    return <>{value.length} items</>;
  }
  if (typeof value === "object") {
    return (
      <dl className="facts nested">
        {Object.entries(value as Record<string, Json>).map(([key, item]) => (
          <div key={key} className="fact">
            <dt>{key.replace(/_/g, " ")}</dt>
            <dd>
              <JsonView value={item} />
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  return <>{String(value)}</>;
}

export function VersionDetail({ version, onSelect }: { version: string; onSelect: (id: string) => void }) {
  const detail = useModelVersion(version);
  return (
    <section className="panel" aria-labelledby="version-title" data-testid="version-detail">
      <h2 id="version-title">
        Version <span className="mono">{version}</span>
      </h2>
      {detail.isPending ? (
        <Loading what="the model card" />
      ) : detail.isError ? (
        <ErrorState error={detail.error} what="the model card" onRetry={() => void detail.refetch()} />
      ) : (
        <>
          <dl className="facts">
            <dt>Status</dt>
            <dd>
              <span className={`status status-${detail.data.status}`}>{detail.data.status}</span>
            </dd>
            <dt>Lineage</dt>
            <dd>
              {detail.data.lineage.length === 0 ? (
                <span className="muted">base version (trained from scratch)</span>
              ) : (
                <span className="lineage">
                  {[version, ...detail.data.lineage].map((id, index) => (
                    <span key={id}>
                      {index > 0 && <span aria-hidden="true"> ← </span>}
                      {index === 0 ? (
                        <span className="mono">{id}</span>
                      ) : (
                        <button type="button" className="link mono" onClick={() => onSelect(id)}>
                          {id}
                        </button>
                      )}
                    </span>
                  ))}
                </span>
              )}
            </dd>
            {detail.data.children.length > 0 && (
              <>
                <dt>Children</dt>
                <dd>
                  {detail.data.children.map((id) => (
                    <button key={id} type="button" className="link mono" onClick={() => onSelect(id)}>
                      {id}
                    </button>
                  ))}
                </dd>
              </>
            )}
            <dt>Created</dt>
            <dd>{formatDate(detail.data.created_at)}</dd>
            <dt>Activated</dt>
            <dd>{formatDate(detail.data.activated_at)}</dd>
            <dt>Weights</dt>
            <dd className="mono small">{detail.data.weights_sha256.slice(0, 16)}…</dd>
          </dl>
          <h3>Metrics per evaluation set</h3>
          <MetricsTable versions={[detail.data]} />
          <h3>Training data</h3>
          {detail.data.card?.training_data ? (
            <JsonView value={detail.data.card.training_data} />
          ) : (
            <p className="muted">The model card has no training-data summary.</p>
          )}
        </>
      )}
    </section>
  );
}
