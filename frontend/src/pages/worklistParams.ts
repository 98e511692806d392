import type { AutonomyLevel, PredictionStatus } from "../api/client";
import type { WorklistFilters } from "../api/queries";

export const STATUSES: { value: PredictionStatus | ""; label: string }[] = [
  { value: "pending_review", label: "Waiting for review" },
  { value: "reviewed", label: "Reviewed" },
  { value: "final", label: "Final" },
  { value: "", label: "Any status" },
];

export const LEVELS: { value: AutonomyLevel; label: string }[] = [
  { value: "supervised", label: "Supervised" },
  { value: "semi_autonomous", label: "Semi-autonomous" },
  { value: "autonomous", label: "Autonomous" },
];

export function levelName(level: AutonomyLevel | string): string {
  return LEVELS.find((entry) => entry.value === level)?.label ?? level;
}

const PAGE = 50;

/** The worklist's filters live in the URL (#/worklist?task=...&site=...&level=...&status=...), and
 * travel to the case view so that next/previous follow the same list. No `status` means "waiting for
 * review": the worklist proper, in its priority order. */
export function filtersFrom(params: URLSearchParams): WorklistFilters {
  const status = params.get("status");
  const level = params.get("level");
  return {
    task: params.get("task") || undefined,
    site: params.get("site") || undefined,
    status: status === null ? "pending_review" : status === "any" ? undefined : (status as PredictionStatus),
    level: LEVELS.some((entry) => entry.value === level) ? (level as AutonomyLevel) : undefined,
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
  if (filters.level) params.set("level", filters.level);
  if (filters.status !== "pending_review") params.set("status", statusParam(filters.status));
  if (filters.offset) params.set("offset", String(filters.offset));
  return params;
}

export const PAGE_SIZE = PAGE;
