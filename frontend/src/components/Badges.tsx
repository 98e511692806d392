import type { AutonomyLevel, Prediction } from "../api/client";
import { levelName } from "../pages/worklistParams";

export function AutonomyBadge({ level }: { level: AutonomyLevel | string }) {
  return (
    <span className={`badge level-${level}`} data-level={level}>
      {levelName(level)}
    </span>
  );
}

export function ReasonBadge({ reason }: { reason: "review" | "audit" }) {
  return (
    <span className={`badge reason-${reason}`} title={reason === "audit" ? "Finalised automatically, drawn for a clinician's check" : "Waiting for a clinician's verdict"}>
      {reason === "audit" ? "audit" : "review"}
    </span>
  );
}

/** `final (rule …)` for an answer made final without a clinician, `audit sample` when it was drawn for
 * a check anyway. */
export function FinalityBadges({ prediction }: { prediction: Prediction }) {
  return (
    <>
      {prediction.finalized_by && (
        <span className="badge final-rule" data-testid="finalized-by" title="Made final without a clinician by this rule">
          final ({prediction.finalized_by.replace(/^rule:/, "rule ")})
        </span>
      )}
      {prediction.audit_sample && (
        <span className="badge reason-audit" data-testid="audit-sample">
          audit sample
        </span>
      )}
    </>
  );
}
