import { useEffect, useRef } from "react";

export const SHORTCUTS: [string, string][] = [
  ["A", "Agree with the AI (not on a blind read: there is no answer to agree with)"],
  ["1 … 9", "Correct to label n (the AI's own label agrees); on a blind read, your label is n"],
  ["U", "Unreadable"],
  ["J or →", "Next case"],
  ["K or ←", "Previous case"],
  ["↓ or PageDown / ↑ or PageUp", "Next / previous slice of the series (CT and MR series of more than one image)"],
  ["H", "Heatmap on / off (on a blind read, after your label)"],
  ["I", "Invert"],
  ["R", "Reset zoom, pan, window/level (to the file's default) and invert"],
  ["W / P", "Drag tool: window/level / pan"],
  ["+ / −", "Zoom in / out"],
  ["?", "This help"],
];

export function ShortcutHelp({ labels, onClose }: { labels: string[]; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal?.();
    return () => dialog?.close?.();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="shortcut-title" onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <h2 id="shortcut-title">Keyboard shortcuts</h2>
      <table className="shortcuts">
        <tbody>
          {SHORTCUTS.map(([keys, action]) => (
            <tr key={keys}>
              <th scope="row">
                <kbd>{keys}</kbd>
              </th>
              <td>{action}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted small">
        Labels of this task: {labels.map((label, i) => `${i + 1} ${label}`).join(", ")}. Mouse: drag for window/level, Shift-drag
        or the middle button to pan, wheel to zoom.
      </p>
      <div className="dialog-actions">
        <button type="button" className="button primary" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
    </dialog>
  );
}
