// Upload several images for a task; each file shows its progress, then its prediction or the API's
// error (message and code) next to it.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type DragEvent } from "react";
import { Link } from "react-router";
import { ApiError, type Prediction } from "../api/client";
import { useTasks } from "../api/queries";
import { uploadForPrediction } from "../api/upload";
import { BlindReadBadge, OutOfDistributionBadge } from "../components/Badges";
import { ErrorState, ErrorText, Loading, Percent } from "../components/States";

type ItemState =
  | { state: "queued" }
  | { state: "uploading"; progress: number }
  | { state: "analysing" }
  | { state: "done"; prediction: Prediction }
  | { state: "failed"; error: unknown };

interface Item {
  key: number;
  file: File;
  task: string;
  site: string;
  status: ItemState;
}

const ACCEPT = ".png,.jpg,.jpeg,.dcm,.dicom,image/png,image/jpeg,application/dicom";
const PARALLEL = 2;

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function Upload() {
  const tasks = useTasks();
  const queryClient = useQueryClient();
  const [task, setTask] = useState("");
  const [site, setSite] = useState(() => localStorage.getItem("imaging-ai.site") ?? "");
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);
  const nextKey = useRef(1);
  const running = useRef(new Set<number>());
  const inputRef = useRef<HTMLInputElement>(null);
  const ids = { task: useId(), site: useId(), files: useId() };

  useEffect(() => {
    if (!task && tasks.data?.[0]) setTask(tasks.data[0].name);
  }, [task, tasks.data]);

  const patch = (key: number, status: ItemState) =>
    setItems((current) => current.map((item) => (item.key === key ? { ...item, status } : item)));

  // Start queued uploads, a few at a time.
  useEffect(() => {
    const queued = items.filter((item) => item.status.state === "queued" && !running.current.has(item.key));
    const free = PARALLEL - running.current.size;
    for (const item of queued.slice(0, Math.max(0, free))) {
      running.current.add(item.key);
      patch(item.key, { state: "uploading", progress: 0 });
      const handle = uploadForPrediction({ file: item.file, task: item.task, site: item.site || undefined }, (fraction) =>
        patch(item.key, fraction >= 1 ? { state: "analysing" } : { state: "uploading", progress: fraction }),
      );
      handle.promise
        .then((prediction) => {
          patch(item.key, { state: "done", prediction });
          void queryClient.invalidateQueries({ queryKey: ["predictions", "list"] });
        })
        .catch((error: unknown) => patch(item.key, { state: "failed", error }))
        .finally(() => {
          running.current.delete(item.key);
          setItems((current) => [...current]);
        });
    }
  }, [items, queryClient]);

  const add = (files: FileList | File[]) => {
    if (!task) return;
    localStorage.setItem("imaging-ai.site", site);
    const added = Array.from(files).map((file) => ({
      key: nextKey.current++,
      file,
      task,
      site: site.trim(),
      status: { state: "queued" } as ItemState,
    }));
    setItems((current) => [...added, ...current]);
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    if (event.dataTransfer.files.length) add(event.dataTransfer.files);
  };

  if (tasks.isPending) return <Loading what="tasks" />;
  if (tasks.isError) return <ErrorState error={tasks.error} what="the tasks" onRetry={() => void tasks.refetch()} />;

  const count = (...states: ItemState["state"][]) => items.filter((item) => states.includes(item.status.state)).length;
  const done = count("done");
  const refused = count("failed");
  const busy = count("queued", "uploading", "analysing");
  return (
    <div className="page">
      <div className="page-head">
        <h1>Upload</h1>
        {items.length > 0 && (
          <p className="muted" aria-live="polite">
            {done} analysed{refused > 0 && ` · ${refused} refused`}
            {busy > 0 && ` · ${busy} in progress`}
          </p>
        )}
      </div>
      <div className="filters">
        <div className="field">
          <label htmlFor={ids.task}>Task</label>
          <select id={ids.task} value={task} onChange={(e) => setTask(e.target.value)}>
            {tasks.data.map((t) => (
              <option key={t.name} value={t.name}>
                {t.title}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.site}>Site (optional)</label>
          <input id={ids.site} value={site} onChange={(e) => setSite(e.target.value)} placeholder="e.g. ward-3 or the scanner" maxLength={128} />
        </div>
      </div>
      <div
        className={`dropzone${dragging ? " dragging" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
        data-testid="dropzone"
      >
        <p>Drop PNG, JPEG or DICOM files here</p>
        <p className="muted">or</p>
        <button type="button" className="button primary" onClick={() => inputRef.current?.click()} disabled={!task}>
          Choose files…
        </button>
        <label htmlFor={ids.files} className="visually-hidden">
          Image files
        </label>
        <input
          id={ids.files}
          ref={inputRef}
          type="file"
          multiple
          accept={ACCEPT}
          className="visually-hidden"
          tabIndex={-1}
          onChange={(e) => {
            if (e.target.files?.length) add(e.target.files);
            e.target.value = "";
          }}
        />
        <p className="muted small">DICOM is de-identified by the server before it is stored.</p>
      </div>
      {items.length > 0 && (
        <ul className="uploads" aria-label="Uploads" data-testid="uploads">
          {items.map((item) => (
            <UploadRow key={item.key} item={item} />
          ))}
        </ul>
      )}
    </div>
  );
}

function UploadRow({ item }: { item: Item }) {
  const { status } = item;
  return (
    <li
      className={`upload upload-${status.state}`}
      data-state={status.state}
      data-prediction-id={status.state === "done" ? status.prediction.id : undefined}
    >
      <div className="upload-file">
        <span className="upload-name">{item.file.name}</span>
        <span className="muted small">
          {formatBytes(item.file.size)} · {item.task}
          {item.site ? ` · ${item.site}` : ""}
        </span>
      </div>
      <div className="upload-status">
        {status.state === "queued" && <span className="muted">Waiting…</span>}
        {status.state === "uploading" && (
          <>
            <progress max={1} value={status.progress} aria-label={`Uploading ${item.file.name}`} />
            <span className="muted small">{Math.round(status.progress * 100)}%</span>
          </>
        )}
        {status.state === "analysing" && (
          <span role="status">
            <span className="spinner" aria-hidden="true" /> Analysing…
          </span>
        )}
        {status.state === "done" && (
          <span className="upload-result">
            {status.prediction.answer_hidden ? (
              <>
                <BlindReadBadge hidden />
                <span className="muted small">answer hidden until your read</span>
              </>
            ) : (
              <>
                <span className={`label-chip label-${status.prediction.predicted_label}`}>{status.prediction.predicted_label}</span>
                <span>
                  <Percent value={status.prediction.confidence} /> confidence
                </span>
              </>
            )}
            <span>
              <span className="muted small">{status.prediction.model_version}</span>
              <OutOfDistributionBadge prediction={status.prediction} />
            </span>
            <Link className="button small" to={`/cases/${status.prediction.id}`}>
              Open case
            </Link>
          </span>
        )}
        {status.state === "failed" && (
          <span className="upload-error" role="alert">
            {status.error instanceof ApiError ? (
              <>
                {status.error.message} <code className="error-code">{status.error.code}</code>
              </>
            ) : (
              <ErrorText error={status.error} />
            )}
          </span>
        )}
      </div>
    </li>
  );
}
