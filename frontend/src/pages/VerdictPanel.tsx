// Agree / Correct to <label> / Unreadable, with notes; keys A, 1..9 and U. On a blind read (the AI's
// answer hidden) there is nothing to agree with: one button per label sends the label read (`read`),
// keys 1..9 and U.
import { useId, useState } from "react";
import type { Prediction, VerdictCreate } from "../api/client";
import { useGiveVerdict } from "../api/queries";
import { useShortcuts } from "../components/shortcuts";
import { ErrorText } from "../components/States";

export type Verdict =
  | { verdict: "agree" }
  | { verdict: "disagree"; label: string }
  | { verdict: "read"; label: string }
  | { verdict: "unreadable" };

/** The request body for a verdict. A blind read sends the label read (`read`); otherwise choosing the
 * AI's own label is agreement (the API refuses a disagreement that names the predicted label). */
export function verdictBody(choice: Verdict, predictedLabel: string | null, notes: string): VerdictCreate {
  const trimmed = notes.trim() || null;
  const base = { notes: trimmed };
  if (choice.verdict === "read") return { ...base, verdict: "read", label: choice.label };
  if (choice.verdict === "disagree" && choice.label !== predictedLabel) {
    return { ...base, verdict: "disagree", label: choice.label };
  }
  return { ...base, verdict: choice.verdict === "unreadable" ? "unreadable" : "agree" };
}

export interface VerdictPanelProps {
  prediction: Prediction;
  labels: string[];
  onDone?: (choice: Verdict) => void;
  shortcutsEnabled?: boolean;
}

export function VerdictPanel({ prediction, labels, onDone, shortcutsEnabled = true }: VerdictPanelProps) {
  const give = useGiveVerdict(prediction.id);
  const [notes, setNotes] = useState("");
  const notesId = useId();
  const blind = prediction.answer_hidden;

  const send = (choice: Verdict) => {
    if (give.isPending) return;
    give.mutate(verdictBody(choice, prediction.predicted_label, notes), {
      onSuccess: () => {
        setNotes("");
        onDone?.(choice);
      },
    });
  };

  /** The n-th label's verdict: the label read (blind), agreement (the AI's own label) or a correction. */
  const choose = (label: string): Verdict =>
    blind ? { verdict: "read", label } : label === prediction.predicted_label ? { verdict: "agree" } : { verdict: "disagree", label };

  useShortcuts((key) => {
    const lower = key.toLowerCase();
    if (lower === "a" && !blind) {
      send({ verdict: "agree" });
      return true;
    }
    if (lower === "u") {
      send({ verdict: "unreadable" });
      return true;
    }
    if (/^[1-9]$/.test(key)) {
      const label = labels[Number(key) - 1];
      if (label === undefined) return false;
      send(choose(label));
      return true;
    }
    return false;
  }, shortcutsEnabled);

  return (
    <section className={`panel verdict${blind ? " verdict-blind" : ""}`} aria-labelledby="verdict-title">
      <h2 id="verdict-title">{blind ? "Your read" : prediction.status === "pending_review" ? "Your verdict" : "Change the verdict"}</h2>
      {blind ? (
        <p className="small">
          Choose the label you see in the image. The AI&apos;s answer is shown once your read is saved.
        </p>
      ) : (
        prediction.status !== "pending_review" && (
          <p className="muted small">Verdicts are kept in the history; the latest one is the label of record.</p>
        )
      )}
      <div className="verdict-buttons" role="group" aria-label={blind ? "Your label" : "Verdict"}>
        {blind ? (
          labels.map((label, index) => (
            <button key={label} type="button" className="button read" onClick={() => send(choose(label))} disabled={give.isPending} data-label={label}>
              Read as {label} <kbd>{index + 1}</kbd>
            </button>
          ))
        ) : (
          <>
            <button type="button" className="button agree" onClick={() => send({ verdict: "agree" })} disabled={give.isPending}>
              Agree: {prediction.predicted_label} <kbd>A</kbd>
            </button>
            {labels.map((label, index) =>
              label === prediction.predicted_label ? null : (
                <button
                  key={label}
                  type="button"
                  className="button correct"
                  onClick={() => send({ verdict: "disagree", label })}
                  disabled={give.isPending}
                >
                  Correct to {label} <kbd>{index + 1}</kbd>
                </button>
              ),
            )}
          </>
        )}
        <button type="button" className="button unreadable" onClick={() => send({ verdict: "unreadable" })} disabled={give.isPending}>
          Unreadable <kbd>U</kbd>
        </button>
      </div>
      <div className="field">
        <label htmlFor={notesId}>Notes (optional, sent with the verdict)</label>
        <textarea id={notesId} rows={2} value={notes} onChange={(e) => setNotes(e.target.value)} maxLength={4000} />
      </div>
      <p aria-live="polite" className="verdict-feedback">
        {give.isPending && "Saving…"}
        {give.isSuccess && !give.isPending && <span className="ok">{blind ? "Read saved." : "Verdict saved."}</span>}
      </p>
      {give.isError && (
        <p className="form-error" role="alert">
          The verdict was not saved: <ErrorText error={give.error} />
        </p>
      )}
    </section>
  );
}
