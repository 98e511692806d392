// TanStack Query hooks over the typed client: one place for query keys and cache invalidation.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  ApiError,
  api,
  unwrap,
  type Alert,
  type AutonomyChange,
  type AutonomyLevel,
  type AutonomyOverview,
  type Calibration,
  type LearningQueuePage,
  type SiteAutonomy,
  type TaskMetrics,
  type WorklistEntry,
  type ModelVersion,
  type Schemas,
  type ModelVersionDetail,
  type Prediction,
  type PredictionStatus,
  type Task,
  type TrainingJob,
  type VerdictCreate,
  type VerdictHistory,
} from "./client";

export interface WorklistFilters {
  task?: string;
  site?: string;
  status?: PredictionStatus;
  /** Only for the cases waiting for a clinician (the worklist proper). */
  level?: AutonomyLevel;
  /** Only for the worklist proper: `study` makes a DICOM study's waiting cases of one task one row
   * (its highest-priority case, with `cases_in_study`); absent means one row per case. */
  group?: "case" | "study";
  limit?: number;
  offset?: number;
}

export interface LearningQueueFilters {
  task: string;
  site?: string;
  limit?: number;
  offset?: number;
}

export const keys = {
  tasks: ["tasks"] as const,
  predictions: (filters: WorklistFilters) => ["predictions", "list", filters] as const,
  worklist: (filters: WorklistFilters) => ["worklist", filters] as const,
  learningQueue: (filters: LearningQueueFilters) => ["learning-queue", filters] as const,
  autonomy: (task: string) => ["autonomy", task] as const,
  metrics: (task: string, cases: number) => ["metrics", task, cases] as const,
  calibration: (task: string, site: string | null) => ["calibration", task, site] as const,
  alerts: ["alerts", "open"] as const,
  prediction: (id: string) => ["predictions", "one", id] as const,
  verdicts: (id: string) => ["predictions", "verdicts", id] as const,
  image: (id: string) => ["images", id] as const,
  taskModels: (task: string) => ["models", "task", task] as const,
  model: (version: string) => ["models", "one", version] as const,
  jobs: (task: string) => ["training-jobs", task] as const,
};

export function useTasks() {
  return useQuery<Task[]>({
    queryKey: keys.tasks,
    queryFn: () => unwrap(api.GET("/api/v1/tasks")),
    staleTime: 60_000,
  });
}

export function usePredictions(filters: WorklistFilters) {
  return useQuery({
    queryKey: keys.predictions(filters),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/predictions", {
          params: {
            query: {
              task: filters.task || undefined,
              site: filters.site || undefined,
              status: filters.status,
              limit: filters.limit ?? 50,
              offset: filters.offset ?? 0,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
}

/** One row of the reading queue: the worklist's entry (priority, its parts, why it is there), or a bare
 * prediction when browsing reviewed or final cases (newest first, no priority). */
export interface QueueRow {
  prediction: Prediction;
  priority: number | null;
  components: WorklistEntry["components"] | null;
  reason: WorklistEntry["reason"] | null;
  /** With `group=study`: the study the row stands for (null or absent: no study, or one row per case). */
  study_instance_uid?: string | null;
  /** With `group=study`: the study's waiting cases of this task. */
  cases_in_study?: number;
}

export interface Queue {
  rows: QueueRow[];
  total: number;
}

/** Cases waiting for a clinician come from `GET /worklist`, in its priority order; the other statuses
 * from `GET /predictions` (newest first). Not asked for while `enabled` is false. */
export function useQueue(filters: WorklistFilters, { enabled = true }: { enabled?: boolean } = {}) {
  const waiting = filters.status === "pending_review";
  return useQuery<Queue>({
    queryKey: waiting ? keys.worklist(filters) : keys.predictions(filters),
    queryFn: async () => {
      if (waiting) {
        const page = await unwrap(
          api.GET("/api/v1/worklist", {
            params: {
              query: {
                task: filters.task || undefined,
                site: filters.site || undefined,
                level: filters.level,
                group: filters.group === "study" ? "study" : undefined,
                limit: filters.limit ?? 50,
                offset: filters.offset ?? 0,
              },
            },
          }),
        );
        return { rows: page.items, total: page.total };
      }
      const page = await unwrap(
        api.GET("/api/v1/predictions", {
          params: {
            query: {
              task: filters.task || undefined,
              site: filters.site || undefined,
              status: filters.status,
              limit: filters.limit ?? 50,
              offset: filters.offset ?? 0,
            },
          },
        }),
      );
      return {
        rows: page.items.map((prediction) => ({ prediction, priority: null, components: null, reason: null })),
        total: page.total,
      };
    },
    enabled,
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
}

/** The cases waiting for a clinician in the order in which their verdicts would teach the model most
 * (`GET /learning-queue`), per task and site; not the worklist's order, which is for patient care. Not
 * asked for without a task, or while `enabled` is false. */
export function useLearningQueue(filters: LearningQueueFilters, { enabled = true }: { enabled?: boolean } = {}) {
  return useQuery<LearningQueuePage>({
    queryKey: keys.learningQueue(filters),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/learning-queue", {
          params: {
            query: {
              task: filters.task,
              site: filters.site || undefined,
              limit: filters.limit ?? 20,
              offset: filters.offset ?? 0,
            },
          },
        }),
      ),
    enabled: enabled && Boolean(filters.task),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
}

export function usePrediction(id: string) {
  return useQuery<Prediction>({
    queryKey: keys.prediction(id),
    queryFn: () => unwrap(api.GET("/api/v1/predictions/{prediction_id}", { params: { path: { prediction_id: id } } })),
  });
}

export function useImageRecord(id: string | undefined) {
  return useQuery({
    queryKey: keys.image(id ?? ""),
    queryFn: () => unwrap(api.GET("/api/v1/images/{image_id}", { params: { path: { image_id: id! } } })),
    enabled: Boolean(id),
    staleTime: Infinity,
  });
}

export function useVerdicts(id: string) {
  return useQuery<VerdictHistory>({
    queryKey: keys.verdicts(id),
    queryFn: () =>
      unwrap(api.GET("/api/v1/predictions/{prediction_id}/feedback", { params: { path: { prediction_id: id } } })),
  });
}

export function useGiveVerdict(predictionId: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: VerdictCreate) =>
      unwrap(
        api.POST("/api/v1/predictions/{prediction_id}/feedback", {
          params: { path: { prediction_id: predictionId } },
          body,
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: keys.verdicts(predictionId) });
      void queryClient.invalidateQueries({ queryKey: keys.prediction(predictionId) });
      void queryClient.invalidateQueries({ queryKey: ["predictions", "list"] });
      void queryClient.invalidateQueries({ queryKey: ["worklist"] });
      void queryClient.invalidateQueries({ queryKey: ["learning-queue"] });
      // A verdict is evidence: levels, recommendations, alerts and charts may change.
      void queryClient.invalidateQueries({ queryKey: ["autonomy"] });
      void queryClient.invalidateQueries({ queryKey: ["metrics"] });
      void queryClient.invalidateQueries({ queryKey: ["calibration"] });
      void queryClient.invalidateQueries({ queryKey: keys.alerts });
    },
  });
}

export function useTaskModels(task: string) {
  return useQuery<ModelVersion[]>({
    queryKey: keys.taskModels(task),
    queryFn: () => unwrap(api.GET("/api/v1/tasks/{task}/models", { params: { path: { task } } })),
  });
}

export function useModelVersion(version: string | null) {
  return useQuery<ModelVersionDetail>({
    queryKey: keys.model(version ?? ""),
    queryFn: () => unwrap(api.GET("/api/v1/models/{version}", { params: { path: { version: version! } } })),
    enabled: Boolean(version),
  });
}

const OPEN_JOB = new Set<TrainingJob["status"]>(["queued", "running"]);

/** Training jobs of a task, polled every 2 s while one is queued or running. */
export function useTrainingJobs(task: string) {
  return useQuery<TrainingJob[]>({
    queryKey: keys.jobs(task),
    queryFn: () => unwrap(api.GET("/api/v1/training-jobs", { params: { query: { task, limit: 20 } } })),
    refetchInterval: (query) => (query.state.data?.some((job) => OPEN_JOB.has(job.status)) ? 2000 : 15_000),
  });
}

function useInvalidateModels(task: string) {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: keys.jobs(task) });
    void queryClient.invalidateQueries({ queryKey: ["models"] });
    void queryClient.invalidateQueries({ queryKey: keys.tasks });
    // A new version where a site is served drops the autonomy earned there (and may raise an alert).
    void queryClient.invalidateQueries({ queryKey: ["autonomy"] });
    void queryClient.invalidateQueries({ queryKey: keys.alerts });
    // Another version serving a site re-scores its learning queue.
    void queryClient.invalidateQueries({ queryKey: ["learning-queue"] });
  };
}

/** Starts an adaptation job: for one site (`site`), or (no site) the task's default on every site. */
export function useStartTraining(task: string) {
  const invalidate = useInvalidateModels(task);
  return useMutation({
    mutationFn: ({ site }: { site?: string | null } = {}) =>
      unwrap(api.POST("/api/v1/training-jobs", { body: site ? { task, site } : { task } })),
    onSuccess: invalidate,
  });
}

export function useCancelTraining(task: string) {
  const invalidate = useInvalidateModels(task);
  return useMutation({
    mutationFn: (jobId: string) =>
      unwrap(api.POST("/api/v1/training-jobs/{job_id}/cancel", { params: { path: { job_id: jobId } } })),
    onSuccess: invalidate,
  });
}

/** Promotes a version for one site (`site`), or (no site) as the task's default. */
export function usePromote(task: string) {
  const invalidate = useInvalidateModels(task);
  return useMutation({
    mutationFn: ({ version, reason, site }: { version: string; reason: string; site?: string | null }) =>
      unwrap(api.POST("/api/v1/models/{version}/promote", { params: { path: { version } }, body: changeBody(reason, site) })),
    onSuccess: invalidate,
  });
}

/** Rolls back one site (`site`), or (no site) the task's default. */
export function useRollback(task: string) {
  const invalidate = useInvalidateModels(task);
  return useMutation({
    mutationFn: ({ reason, site }: { reason: string; site?: string | null }) =>
      unwrap(api.POST("/api/v1/tasks/{task}/rollback", { params: { path: { task } }, body: changeBody(reason, site) })),
    onSuccess: invalidate,
  });
}

/** `{reason}` for the task's default, `{reason, site}` for one site. */
function changeBody(reason: string, site?: string | null): Schemas["ModelChange"] {
  return site ? { reason, site } : { reason };
}

// --- earned autonomy and monitoring ----------------------------------------------------------------

export function useAutonomy(task: string) {
  return useQuery<AutonomyOverview>({
    queryKey: keys.autonomy(task),
    queryFn: () => unwrap(api.GET("/api/v1/tasks/{task}/autonomy", { params: { path: { task } } })),
    enabled: Boolean(task),
    refetchInterval: 60_000,
  });
}

/** Agreement and the rest over time, every `cases` predictions, one series per site and version. */
export function useTaskMetrics(task: string, cases: number) {
  return useQuery<TaskMetrics>({
    queryKey: keys.metrics(task, cases),
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/tasks/{task}/metrics", {
          params: { path: { task }, query: { bucket: "cases", cases_per_bucket: cases } },
        }),
      ),
    enabled: Boolean(task),
    refetchInterval: 60_000,
  });
}

/** The reliability diagram's bins; `null` when the server has no calibration endpoint (404 on the
 * path itself, not on the task). */
export function useCalibration(task: string, site: string | null) {
  return useQuery<Calibration | null>({
    queryKey: keys.calibration(task, site),
    queryFn: async () => {
      try {
        return await unwrap(
          api.GET("/api/v1/tasks/{task}/calibration", {
            params: { path: { task }, query: { site: site ?? undefined } },
          }),
        );
      } catch (error) {
        if (error instanceof ApiError && error.status === 404 && error.code === "not_found") return null;
        throw error;
      }
    },
    enabled: Boolean(task),
  });
}

export function useChangeAutonomy(task: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (body: AutonomyChange) =>
      unwrap(api.PUT("/api/v1/tasks/{task}/autonomy", { params: { path: { task } }, body })),
    onSuccess: (changed: SiteAutonomy) => {
      queryClient.setQueryData<AutonomyOverview>(keys.autonomy(task), (overview) =>
        overview && { ...overview, sites: overview.sites.map((site) => (site.site === changed.site ? changed : site)) },
      );
      // A task-wide change moves the sites that follow it.
      void queryClient.invalidateQueries({ queryKey: keys.autonomy(task) });
      void queryClient.invalidateQueries({ queryKey: ["worklist"] });
    },
  });
}

/** Open (unacknowledged) alerts, every task; polled so that a fall-back shows up on every screen. */
export function useOpenAlerts(enabled = true) {
  return useQuery<Alert[]>({
    queryKey: keys.alerts,
    queryFn: () => unwrap(api.GET("/api/v1/alerts", { params: { query: { open_only: true, limit: 20 } } })),
    enabled,
    refetchInterval: 30_000,
  });
}

export function useAcknowledgeAlert() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (id: string) =>
      unwrap(api.POST("/api/v1/alerts/{alert_id}/acknowledge", { params: { path: { alert_id: id } } })),
    onSuccess: (acknowledged: Alert) => {
      queryClient.setQueryData<Alert[]>(keys.alerts, (alerts) => alerts?.filter((alert) => alert.id !== acknowledged.id));
      void queryClient.invalidateQueries({ queryKey: keys.alerts });
      void queryClient.invalidateQueries({ queryKey: ["autonomy"] });
    },
  });
}
