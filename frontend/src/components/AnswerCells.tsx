import { Children, type ReactNode } from "react";
import type { Prediction } from "../api/client";
import { BlindReadBadge, OutOfDistributionBadge } from "./Badges";
import { Percent } from "./States";

/** A list row's answer cells: the AI label and its confidence, then `children` (more cells); for a case
 * awaiting its blind read, one cell spanning them all that says the answer is hidden. */
export function AnswerCells({ prediction, children }: { prediction: Prediction; children?: ReactNode }) {
  if (prediction.answer_hidden) {
    return (
      <td colSpan={2 + Children.count(children)} data-testid="blind-row">
        <BlindReadBadge hidden /> <span className="muted small">answer hidden until your read</span>
        <OutOfDistributionBadge prediction={prediction} />
      </td>
    );
  }
  return (
    <>
      <td>
        <span className={`label-chip label-${prediction.predicted_label}`}>{prediction.predicted_label}</span>
        {prediction.blind_read && <BlindReadBadge hidden={false} />}
        <OutOfDistributionBadge prediction={prediction} />
      </td>
      <td className="num">
        <Percent value={prediction.confidence} />
      </td>
      {children}
    </>
  );
}
