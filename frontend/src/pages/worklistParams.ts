import type { PredictionStatus } from "../api/client";
import type { WorklistFilters } from "../api/queries";

export const STATUSES: { value: PredictionStatus | ""; label: string }[] = [
  { value: "pending_review", label: "Waiting for review" },
  { value: "reviewed", label: "Reviewed" },
  { value: "final", label: "Final" },
  { value: "", label: "Any status" },
];

const PAGE = 50;

/** The worklist's filters live in the URL (#/worklist?task=...&status=...), and travel to the case
 * view so that next/previous follow the same list. No `status` means "waiting for review". */
export function filtersFrom(params: URLSearchParams): WorklistFilters {
  const status = params.get("status");
  return {
    task: params.get("task") || undefined,
    site: params.get("site") || undefined,
    status: status === null ? "pending_review" : status === "any" ? undefined : (status as PredictionStatus),
    limit: PAGE,
    offset: Number(params.get("offset") ?? 0) || 0,
  };
}

export function statusParam(status: PredictionStatus | undefined): string {
  return status ?? "any";
}

export function paramsFrom(filters: WorklistFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.task) params.set("task", filters.task);
  if (filters.site) params.set("site", filters.site);
  if (filters.status !== "pending_review") params.set("status", statusParam(filters.status));
  if (filters.offset) params.set("offset", String(filters.offset));
  return params;
}

export const PAGE_SIZE = PAGE;
