import type { ModelVersion } from "../../api/client";
import { formatNumber } from "../../components/States";

type Metrics = Record<string, unknown>;
const COLUMNS = ["auc", "accuracy", "sensitivity", "specificity", "n"] as const;

/** Metrics per evaluation set for one or more versions (from their model cards), side by side. */
export function MetricsTable({ versions }: { versions: Pick<ModelVersion, "id" | "metrics">[] }) {
  const sets = Array.from(new Set(versions.flatMap((v) => Object.keys(v.metrics ?? {}))));
  if (sets.length === 0) return <p className="muted">No metrics recorded on the model card.</p>;
  const many = versions.length > 1;
  return (
    <table className="table compact metrics">
      <thead>
        <tr>
          <th scope="col">Evaluation set</th>
          {many && <th scope="col">Version</th>}
          {COLUMNS.map((column) => (
            <th scope="col" key={column} className="num">
              {column === "n" ? "n" : column.toUpperCase() === "AUC" ? "AUC" : column[0]!.toUpperCase() + column.slice(1)}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {sets.flatMap((set) =>
          versions.map((version, index) => {
            const metrics = (version.metrics as Record<string, Metrics | undefined>)[set];
            return (
              <tr key={`${set}-${version.id}`}>
                {index === 0 && (
                  <th scope="rowgroup" rowSpan={versions.length}>
                    {set}
                  </th>
                )}
                {many && <td className="mono nowrap">{version.id}</td>}
                {COLUMNS.map((column) => (
                  <td key={column} className="num">
                    {metrics ? (column === "n" ? String(metrics.n ?? "–") : formatNumber(metrics[column])) : "–"}
                  </td>
                ))}
              </tr>
            );
          }),
        )}
      </tbody>
    </table>
  );
}
