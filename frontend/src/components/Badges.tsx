import type { AutonomyLevel, ModelVersion, Prediction } from "../api/client";
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

/** How a version was chosen for a site (or a prediction): the site's own version, or the task's default. */
export function RoutingBadge({ routing }: { routing: "site" | "default" }) {
  return (
    <span
      className={`badge routing-${routing}`}
      data-routing={routing}
      title={routing === "site" ? "Promoted for this site: it serves this site only" : "The task's default: the site has no version of its own"}
    >
      {routing === "site" ? "site's own version" : "task default"}
    </span>
  );
}

export type OperatingPointSource = "site" | "version" | "argmax";

const SOURCE_TITLES: Record<OperatingPointSource, string> = {
  site: "Chosen on this site's verified cases to meet the task's target sensitivity",
  version: "The version's own threshold, chosen on its validation data",
  argmax: "No threshold: the label of highest probability",
};

/** A threshold as the API gives it (0.31), without trailing noise (at most three decimals). */
export function formatThreshold(threshold: number): string {
  return String(Number(threshold.toFixed(3)));
}

/** "0.31 (site)", "0.42 (version)", or "highest probability" when no threshold is served. */
export function thresholdText(threshold: number | null, source: OperatingPointSource): string {
  return threshold === null || source === "argmax" ? "highest probability" : `${formatThreshold(threshold)} (${source})`;
}

/** The decision threshold in force and where it came from, with the source explained on hover. */
export function ThresholdText({ threshold, source }: { threshold: number | null; source: OperatingPointSource }) {
  return (
    <span className={`threshold threshold-${source}`} data-source={source} title={SOURCE_TITLES[source]}>
      {thresholdText(threshold, source)}
    </span>
  );
}

/** "default" and the sites a version serves as their own. */
export function ServesBadges({ version }: { version: Pick<ModelVersion, "is_default" | "serving_sites"> }) {
  if (!version.is_default && version.serving_sites.length === 0) return <span className="muted">–</span>;
  return (
    <span className="serves" data-testid="serves">
      {version.is_default && <span className="badge serves-default">default</span>}
      {version.serving_sites.map((site) => (
        <span key={site} className="badge serves-site" title={`Serves site ${site} as its own version`}>
          {site}
        </span>
      ))}
    </span>
  );
}

/** The image lies outside what the model version was trained on: its answer is never made final
 * automatically, and deserves a closer look. Nothing for an image inside (false) or unchecked (null). */
export function OutOfDistributionBadge({ prediction }: { prediction: Pick<Prediction, "out_of_distribution"> }) {
  if (prediction.out_of_distribution !== true) return null;
  return (
    <span
      className="badge ood"
      data-testid="out-of-distribution"
      title="This image is unlike the images the model was trained on: its answer is never final without a clinician"
    >
      ⚠ Out of distribution
    </span>
  );
}

/** A case read blind: the AI's answer is hidden from clinicians until a verdict is given. */
export function BlindReadBadge({ hidden }: { hidden: boolean }) {
  return (
    <span
      className="badge blind-read"
      data-testid="blind-read"
      title={hidden ? "Read blind: the AI's answer is hidden until a clinician gives their label" : "Read blind: the clinician labelled it before seeing the AI's answer"}
    >
      Blind read
    </span>
  );
}
