// A modal confirmation on the native <dialog> (focus is trapped and Escape cancels by the browser).
import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { ErrorText } from "./States";

export interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** Asks for a reason (for the audit log) of at least 3 characters. */
  askReason?: boolean;
  busy?: boolean;
  /** False while the rest of the form is incomplete (the reason is checked here). */
  canConfirm?: boolean;
  error?: unknown;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}

export function ConfirmDialog({ title, children, confirmLabel, askReason, busy, canConfirm = true, error, onConfirm, onCancel }: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState("");
  const titleId = useId();
  const reasonId = useId();

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal?.();
    return () => dialog?.close?.();
  }, []);

  const valid = canConfirm && (!askReason || reason.trim().length >= 3);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
    >
      <form
        method="dialog"
        onSubmit={(event) => {
          event.preventDefault();
          if (valid && !busy) onConfirm(reason.trim());
        }}
      >
        <h2 id={titleId}>{title}</h2>
        <div className="dialog-body">{children}</div>
        {askReason && (
          <div className="field">
            <label htmlFor={reasonId}>Reason (written to the audit log)</label>
            <textarea id={reasonId} value={reason} onChange={(e) => setReason(e.target.value)} rows={3} required minLength={3} autoFocus />
          </div>
        )}
        {error !== undefined && error !== null && (
          <p className="form-error" role="alert">
            <ErrorText error={error} />
          </p>
        )}
        <div className="dialog-actions">
          <button type="button" className="button" onClick={onCancel}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={!valid || busy}>
            {busy ? "Working…" : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
