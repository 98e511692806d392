// The learning queue's scope in the address: its page (#/learn?task=...&site=...&offset=...), and a case
// opened from it (#/cases/<id>?task=...&site=...&from=learn), whose Next/Previous and auto-advance then
// follow the learning queue of the same task and site instead of the worklist.

export interface LearnFilters {
  task: string | undefined;
  site: string | undefined;
  offset: number;
}

/** The marker a case's address carries when it was opened from "Teach the model". */
export const FROM_LEARN = "learn";

export function learnFiltersFrom(params: URLSearchParams): LearnFilters {
  return {
    task: params.get("task") || undefined,
    site: params.get("site") || undefined,
    offset: Math.max(0, Number(params.get("offset") ?? 0) || 0),
  };
}

export function learnParamsFrom(filters: LearnFilters): URLSearchParams {
  const params = new URLSearchParams();
  if (filters.task) params.set("task", filters.task);
  if (filters.site) params.set("site", filters.site);
  if (filters.offset) params.set("offset", String(filters.offset));
  return params;
}

/** Whether the case was opened from the learning queue (and reads in its order). */
export function isFromLearn(params: URLSearchParams): boolean {
  return params.get("from") === FROM_LEARN;
}

/** A case's address from the learning queue: the queue's task and site, and `from=learn`. */
export function learnCaseLink(id: string, task: string | undefined, site: string | undefined): string {
  const params = learnParamsFrom({ task, site, offset: 0 });
  params.set("from", FROM_LEARN);
  return `/cases/${id}?${params}`;
}

/** The learning queue's page for a task and site (its first page). */
export function learnListLink(task: string | undefined, site: string | undefined): string {
  const params = learnParamsFrom({ task, site, offset: 0 }).toString();
  return `/learn${params ? `?${params}` : ""}`;
}
