import type { OperatingPoint, SiteServing as Site, Task } from "../../api/client";
import { RoutingBadge, ThresholdText } from "../../components/Badges";
import { Empty, formatDate } from "../../components/States";

const pct = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;

/** "92.5% (95% CI 80.1–97.4%)", or "–" when the threshold was not chosen on cases. */
export function sensitivityText(point: OperatingPoint): string {
  if (point.sensitivity === null || point.sensitivity === undefined) return "–";
  const [low, high] = point.sensitivity_ci95 ?? [];
  return low === null || low === undefined || high === null || high === undefined
    ? pct(point.sensitivity)
    : `${pct(point.sensitivity)} (95% CI ${pct(low)}–${pct(high)})`;
}

function CasesText({ point }: { point: OperatingPoint }) {
  if (point.positives === null || point.positives === undefined) {
    return <span className="muted">{point.source === "version" ? "the version's validation data" : "–"}</span>;
  }
  return (
    <>
      {point.positives} positive / {point.negatives ?? "–"} negative
      {point.chosen_on && <span className="muted small"> ({point.chosen_on})</span>}
    </>
  );
}

/** The threshold's evidence: sensitivity with its interval and specificity, where it was chosen on cases. */
function Evidence({ point }: { point: OperatingPoint }) {
  return (
    <>
      <td className="nowrap">{sensitivityText(point)}</td>
      <td className="num">{pct(point.specificity)}</td>
      <td>
        <CasesText point={point} />
      </td>
    </>
  );
}

/** What serves each site of a task: the default, then every site with its version, its routing (its own
 * version, or the default) and the decision threshold in force there. */
export function SiteServingTable({ task, onRollbackSite }: { task: Task; onRollbackSite: (site: Site) => void }) {
  const target = task.target_sensitivity;
  return (
    <section className="panel" aria-labelledby="serving-title">
      <h2 id="serving-title">Serving per site</h2>
      <p className="muted small">
        A site with a version of its own (promoted for it) gets that version; every other site, and a prediction without a
        site, gets the task's default.
        {target !== null && target !== undefined
          ? ` Each site's threshold is chosen on its verified cases to meet a sensitivity of ${pct(target, 0)}; until there are enough, the version's own threshold serves.`
          : " This task serves the label of highest probability."}
      </p>
      <div className="table-wrap">
        <table className="table" data-testid="site-serving">
          <thead>
            <tr>
              <th scope="col">Site</th>
              <th scope="col">Version</th>
              <th scope="col">Routing</th>
              <th scope="col">Threshold in force</th>
              <th scope="col">Sensitivity (95% CI)</th>
              <th scope="col" className="num">
                Specificity
              </th>
              <th scope="col">Chosen on</th>
              <th scope="col">Changed</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            <tr data-site="" className="default-row">
              <th scope="row">Default</th>
              <td className="mono">{task.default_version ?? <span className="muted">none</span>}</td>
              <td>
                <span className="muted small">every other site</span>
              </td>
              {task.default_operating_point ? (
                <>
                  <td>
                    <ThresholdText threshold={task.default_operating_point.threshold} source={task.default_operating_point.source} />
                  </td>
                  <Evidence point={task.default_operating_point} />
                </>
              ) : (
                <td colSpan={4} className="muted">
                  –
                </td>
              )}
              <td />
              <td />
            </tr>
            {task.sites.map((site) => (
              <tr key={site.site} data-site={site.site} data-routing={site.routing}>
                <th scope="row">{site.site}</th>
                <td className="mono">{site.version}</td>
                <td>
                  <RoutingBadge routing={site.routing} />
                </td>
                <td>
                  <ThresholdText threshold={site.operating_point.threshold} source={site.operating_point.source} />
                </td>
                <Evidence point={site.operating_point} />
                <td className="small">
                  {site.changed_at ? (
                    <span title={site.reason ?? undefined}>
                      {formatDate(site.changed_at)}
                      {site.changed_by && <> by {site.changed_by}</>}
                      {site.reason && <span className="muted"> — {site.reason}</span>}
                    </span>
                  ) : (
                    <span className="muted">–</span>
                  )}
                </td>
                <td>
                  {site.routing === "site" && (
                    <button type="button" className="button small nowrap" onClick={() => onRollbackSite(site)}>
                      Roll back site…
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {task.sites.length === 0 && <Empty>No site has sent images yet: the default serves every prediction.</Empty>}
    </section>
  );
}
