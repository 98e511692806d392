// The typed API client: openapi-fetch over the generated `paths`, plus the two things every call
// needs: the CSRF header on state-changing requests, and the error envelope turned into ApiError.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Prediction = Schemas["PredictionPublic"];
export type PredictionStatus = Prediction["status"];
export type Task = Schemas["TaskPublic"];
export type SiteServing = Schemas["SiteServingPublic"];
export type OperatingPoint = Schemas["OperatingPointPublic"];
export type SiteOperatingPoint = Schemas["SiteOperatingPointPublic"];
export type ImageRecord = Schemas["ImagePublic"];
export type VerdictHistory = Schemas["VerdictHistory"];
export type VerdictCreate = Schemas["VerdictCreate"];
export type ModelVersion = Schemas["ModelVersionPublic"];
export type ModelVersionDetail = Schemas["ModelVersionDetail"];
export type TrainingJob = Schemas["TrainingJobPublic"];
export type WorklistEntry = Schemas["WorklistEntry"];
export type WorklistPage = Schemas["WorklistPage"];
export type LearningQueueEntry = Schemas["LearningQueueEntry"];
export type LearningQueuePage = Schemas["LearningQueuePage"];
export type LearningStrategy = LearningQueueEntry["strategy"];
export type AutonomyLevel = Prediction["autonomy_level"];
export type AutonomyOverview = Schemas["AutonomyOverview"];
export type SiteAutonomy = Schemas["SiteAutonomyPublic"];
export type AutonomyChange = Schemas["AutonomyChange"];
export type Proportion = Schemas["ProportionPublic"];
export type Alert = Schemas["AlertPublic"];
export type TaskMetrics = Schemas["TaskMetrics"];
export type MetricsSeries = Schemas["MetricsSeriesPublic"];
export type Calibration = Schemas["Calibration"];
export type ClassEvidence = Schemas["ClassEvidencePublic"];
export type ErrorBound = Schemas["ErrorBoundPublic"];
export type ThresholdStep = Schemas["ThresholdStepPublic"];
export type Drift = Schemas["DriftPublic"];
export type Verdict = Schemas["VerdictPublic"];

/** A failed request, with the envelope's stable `code` (or a transport code: `network_error`). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}, requestId: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

/** Reads `{"error": {code, message, details, request_id}}`; anything else becomes `http_<status>`. */
export function errorFromBody(status: number, body: unknown, fallbackRequestId: string | null = null): ApiError {
  const envelope = (body as { error?: Partial<Schemas["ErrorBody"]> } | null)?.error;
  if (envelope && typeof envelope.code === "string") {
    return new ApiError(
      status,
      envelope.code,
      envelope.message ?? `HTTP ${status}`,
      (envelope.details as Record<string, unknown>) ?? {},
      envelope.request_id ?? fallbackRequestId,
    );
  }
  return new ApiError(status, `http_${status}`, `The server answered HTTP ${status}.`, {}, fallbackRequestId);
}

// --- CSRF ----------------------------------------------------------------------------------------

const CSRF_COOKIE = "imaging_ai_csrf";
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** The readable cookie the server sets with the session (current even after a sign-in in another
 * tab), else the token from the last sign-in or /auth/me answer. */
export function currentCsrfToken(): string | null {
  const match = document.cookie.split("; ").find((part) => part.startsWith(`${CSRF_COOKIE}=`));
  const fromCookie = match ? decodeURIComponent(match.slice(CSRF_COOKIE.length + 1)) : "";
  return fromCookie || csrfToken;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function needsCsrf(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

// --- signed-out notification -----------------------------------------------------------------------

type Listener = () => void;
const unauthenticatedListeners = new Set<Listener>();

/** Called when any request answers 401: the session ended (expired, revoked, signed out elsewhere). */
export function onUnauthenticated(listener: Listener): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

export function notifyUnauthenticated(): void {
  unauthenticatedListeners.forEach((listener) => listener());
}

const middleware: Middleware = {
  onRequest({ request }) {
    if (needsCsrf(request.method)) {
      const token = currentCsrfToken();
      if (token) request.headers.set("X-CSRF-Token", token);
    }
    return request;
  },
  onResponse({ response, request }) {
    if (response.status === 401 && !new URL(request.url).pathname.endsWith("/auth/login")) {
      notifyUnauthenticated();
    }
    return response;
  },
};

export const api = createClient<paths>({
  // Absolute, so that Request() also accepts it outside a browser (the component tests).
  baseUrl: globalThis.location?.origin ?? "",
  credentials: "same-origin",
  // Looked up on each call rather than captured once, so tests can stub the global fetch.
  fetch: (request) => globalThis.fetch(request),
});
api.use(middleware);

/** Unwraps an openapi-fetch result: the data, or an ApiError from the envelope. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (cause) {
    throw new ApiError(0, "network_error", `The server could not be reached (${String(cause)}).`);
  }
  const { data, error, response } = result;
  if (!response.ok) {
    throw errorFromBody(response.status, error, response.headers.get("x-request-id"));
  }
  return data as T;
}
