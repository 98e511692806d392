// TanStack Query hooks over the typed client: one place for query keys and cache invalidation.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  api,
  unwrap,
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
  limit?: number;
  offset?: number;
}

export const keys = {
  tasks: ["tasks"] as const,
  predictions: (filters: WorklistFilters) => ["predictions", "list", filters] as const,
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
  };
}

export function useStartTraining(task: string) {
  const invalidate = useInvalidateModels(task);
  return useMutation({
    mutationFn: () => unwrap(api.POST("/api/v1/training-jobs", { body: { task } })),
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

export function usePromote(task: string) {
  const invalidate = useInvalidateModels(task);
  return useMutation({
    mutationFn: ({ version, reason }: { version: string; reason: string }) =>
      unwrap(api.POST("/api/v1/models/{version}/promote", { params: { path: { version } }, body: changeBody(reason) })),
    onSuccess: invalidate,
  });
}

export function useRollback(task: string) {
  const invalidate = useInvalidateModels(task);
  return useMutation({
    mutationFn: ({ reason }: { reason: string }) =>
      unwrap(api.POST("/api/v1/tasks/{task}/rollback", { params: { path: { task } } , body: changeBody(reason) })),
    onSuccess: invalidate,
  });
}

function changeBody(reason: string): Schemas["ModelChange"] {
  return { reason };
}
