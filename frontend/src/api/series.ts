// GET /api/v1/series/{series_instance_uid}: the instances of a DICOM series in instance-number order,
// each with its image and latest prediction, and one series-level answer per task with the rule that
// made it. A 404 (no such series, or a server without the route) hides the slice navigator.
import { useQuery } from "@tanstack/react-query";
import { api, unwrap, type ApiError, type Schemas } from "./client";

export type Series = Schemas["SeriesDetail"];
export type SeriesInstance = Schemas["SeriesInstancePublic"];
export type SeriesAnswer = Schemas["SeriesAnswerPublic"];

/** The series, or null when the server knows no such series (or has no series route). */
export async function fetchSeries(uid: string): Promise<Series | null> {
  try {
    return await unwrap(api.GET("/api/v1/series/{series_instance_uid}", { params: { path: { series_instance_uid: uid } } }));
  } catch (error) {
    if ((error as ApiError).status === 404) return null;
    throw error;
  }
}

export function useSeries(uid: string | null) {
  return useQuery({
    queryKey: ["series", uid ?? ""],
    queryFn: () => fetchSeries(uid!),
    enabled: Boolean(uid),
    staleTime: 30_000,
    retry: false,
  });
}
