import type { ModelVersion, SiteOperatingPoint } from "../../api/client";
import { useModelVersion } from "../../api/queries";
import { ServesBadges, ThresholdText } from "../../components/Badges";
import { ErrorState, formatDate, Loading } from "../../components/States";
import { MetricsTable } from "./MetricsTable";
import { sensitivityText } from "./SiteServing";

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

/** The threshold chosen for this version at each site (in force where it serves). */
function OperatingPoints({ points }: { points: SiteOperatingPoint[] }) {
  if (points.length === 0) return <p className="muted">No site has a threshold chosen for this version yet.</p>;
  return (
    <table className="table compact" data-testid="operating-points">
      <thead>
        <tr>
          <th scope="col">Site</th>
          <th scope="col">Threshold</th>
          <th scope="col">Sensitivity (95% CI)</th>
          <th scope="col" className="num">
            Positive / negative
          </th>
          <th scope="col">Chosen</th>
        </tr>
      </thead>
      <tbody>
        {points.map((point) => (
          <tr key={point.site}>
            <th scope="row">{point.site}</th>
            <td>
              <ThresholdText threshold={point.threshold} source={point.source} />
            </td>
            <td className="nowrap">{sensitivityText(point)}</td>
            <td className="num">
              {point.positives ?? "–"} / {point.negatives ?? "–"}
            </td>
            <td className="small">
              {formatDate(point.chosen_at)}
              {point.chosen_on && <span className="muted"> ({point.chosen_on})</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function VersionDetail({
  version,
  onSelect,
  onPromote,
}: {
  version: string;
  onSelect: (id: string) => void;
  onPromote?: (version: ModelVersion) => void;
}) {
  const detail = useModelVersion(version);
  return (
    <section className="panel" aria-labelledby="version-title" data-testid="version-detail">
      <div className="panel-head">
        <h2 id="version-title">
          Version <span className="mono">{version}</span>
        </h2>
        {onPromote && detail.data && detail.data.status !== "rejected" && (
          <div className="actions">
            <button type="button" className="button small" onClick={() => onPromote(detail.data)}>
              Promote…
            </button>
          </div>
        )}
      </div>
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
            <dt>Serves</dt>
            <dd>
              <ServesBadges version={detail.data} />
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
                  {detail.data.children.map((id, index) => (
                    <span key={id}>
                      {index > 0 && ", "}
                      <button type="button" className="link mono" onClick={() => onSelect(id)}>
                        {id}
                      </button>
                    </span>
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
          <h3>Thresholds per site</h3>
          <OperatingPoints points={detail.data.operating_points} />
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
