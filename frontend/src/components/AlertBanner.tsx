// Open alerts (automatic fall-backs to supervision: a label's error above its target, new version, input drift) on every
// screen for a signed-in user, with Acknowledge for clinicians and administrators.
import { Link } from "react-router";
import type { Alert } from "../api/client";
import { useAcknowledgeAlert, useOpenAlerts } from "../api/queries";
import { ErrorText, formatDate } from "./States";

const KINDS: Record<Alert["kind"], string> = {
  agreement_dropped: "Agreement dropped",
  new_version: "New model version",
  input_drift: "Input drift",
  error_above_target: "Error above target",
};

export function AlertBanner({ canAcknowledge }: { canAcknowledge: boolean }) {
  const alerts = useOpenAlerts();
  const acknowledge = useAcknowledgeAlert();
  const open = alerts.data ?? [];
  if (open.length === 0) return null;
  return (
    <section className="alert-banner" role="alert" aria-labelledby="alerts-title" data-testid="alert-banner">
      <h2 id="alerts-title">
        {open.length === 1 ? "1 open alert" : `${open.length} open alerts`}: autonomy fell back to supervision
      </h2>
      <ul>
        {open.map((alert) => (
          <li key={alert.id} data-alert-id={alert.id}>
            <strong>{KINDS[alert.kind] ?? alert.kind}</strong>{" "}
            <span className="mono">
              {alert.task} · {alert.site === "*" ? "all sites" : alert.site}
            </span>
            : {alert.message} <span className="small">({formatDate(alert.created_at)})</span>{" "}
            <Link to={`/trust?task=${encodeURIComponent(alert.task)}${alert.site !== "*" ? `&site=${encodeURIComponent(alert.site)}` : ""}`}>
              Evidence
            </Link>
            {canAcknowledge && (
              <button
                type="button"
                className="button small"
                disabled={acknowledge.isPending && acknowledge.variables === alert.id}
                onClick={() => acknowledge.mutate(alert.id)}
              >
                Acknowledge
              </button>
            )}
          </li>
        ))}
      </ul>
      {acknowledge.isError && (
        <p className="small">
          Could not acknowledge: <ErrorText error={acknowledge.error} />
        </p>
      )}
    </section>
  );
}
