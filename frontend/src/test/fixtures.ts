// Answers of the autonomy, metrics, calibration, alerts and tasks endpoints, shaped as the schema says.
import type { Alert, AutonomyOverview, Calibration, OperatingPoint, Proportion, SiteAutonomy, Task, TaskMetrics } from "../api/client";

export const TASK = "chest-xray-pneumonia";
export const VERSION = `${TASK}.v1`;

export const proportion = (successes: number, n: number, low: number, high: number): Proportion => ({
  successes,
  n,
  rate: n ? Math.round((successes / n) * 10_000) / 10_000 : null,
  low,
  high,
});

const site = (name: string, overrides: Partial<SiteAutonomy> = {}): SiteAutonomy => ({
  site: name,
  level: "supervised",
  confidence_threshold: null,
  audit_fraction: 0.1,
  level_source: "default",
  changed_by: null,
  changed_at: null,
  reason: null,
  model_version: VERSION,
  evidence: {
    verdicts: 250,
    agreement: proportion(240, 250, 0.928, 0.978),
    sensitivity: proportion(95, 100, 0.888, 0.978),
    specificity: proportion(145, 150, 0.924, 0.986),
    calibration_error: 0.031,
    above_threshold: proportion(180, 181, 0.969, 0.999),
    threshold_meeting_target: 0.97,
    threshold_evidence: proportion(180, 181, 0.969, 0.999),
    audited: proportion(0, 0, 0, 0),
  },
  drift: { score: 0.04, threshold: 0.25, drifted: false, recent_images: 200, reference: "site" },
  recommendation: { level: "supervised", confidence_threshold: null, reason: "keep supervision" },
  ...overrides,
});

export const overview: AutonomyOverview = {
  task: TASK,
  target: 0.95,
  min_verdicts: 200,
  sites: [
    site("*", { evidence: { ...site("*").evidence, verdicts: 310 } }),
    site("nih", {
      recommendation: {
        level: "semi_autonomous",
        confidence_threshold: 0.97,
        reason: "agreement at confidence >= 0.97 is 99.4% (95% CI 96.9-99.9%, n=181), above the target 95%",
      },
    }),
    site("ward-b", {
      level: "semi_autonomous",
      confidence_threshold: 0.98,
      level_source: "ward-b",
      changed_by: "admin",
      changed_at: "2026-11-20T10:00:00Z",
      reason: "quality board",
      drift: { score: 0.31, threshold: 0.25, drifted: true, recent_images: 120, reference: "site" },
    }),
  ],
};

const point = (index: number, agreed: number, n: number, low: number, high: number) => ({
  start: `2026-11-${String(index + 1).padStart(2, "0")}T00:00:00Z`,
  end: `2026-11-${String(index + 2).padStart(2, "0")}T00:00:00Z`,
  predictions: 25,
  finalised_automatically: 0,
  verdicts: n,
  agreement: proportion(agreed, n, low, high),
  sensitivity: null,
  specificity: null,
  calibration_error: null,
  drift_psi: null,
});

export const metrics: TaskMetrics = {
  task: TASK,
  bucket: "cases",
  series: [
    { site: "nih", model_version: VERSION, points: [point(0, 23, 25, 0.75, 0.98), point(1, 24, 25, 0.8, 0.99), point(2, 25, 25, 0.87, 1)] },
    { site: "ward-b", model_version: VERSION, points: [point(0, 20, 25, 0.61, 0.91), point(1, 0, 0, 0, 0)] },
  ],
};

export const calibration: Calibration = {
  task: TASK,
  model_version: VERSION,
  site: null,
  bins: Array.from({ length: 10 }, (_, index) => {
    const low = index / 10;
    const n = index >= 5 ? 20 + index * 5 : 0;
    return {
      low,
      high: (index + 1) / 10,
      n,
      confidence_mean: n ? low + 0.05 : null,
      accuracy: n ? Math.min(1, low + 0.02) : null,
    };
  }),
};

export const alerts: Alert[] = [
  {
    id: "6f1d2c3b-0000-4000-8000-000000000001",
    task: TASK,
    site: "ward-b",
    kind: "input_drift",
    message: "Input drift at ward-b: PSI 0.31 above 0.25; back to supervised.",
    details: { psi: 0.31 },
    created_at: "2026-11-27T08:00:00Z",
    acknowledged_at: null,
    acknowledged_by: null,
  },
  {
    id: "6f1d2c3b-0000-4000-8000-000000000002",
    task: TASK,
    site: "*",
    kind: "new_version",
    message: `A new version (${TASK}.v2) is active; every level is back to supervised.`,
    details: {},
    created_at: "2026-11-27T09:00:00Z",
    acknowledged_at: null,
    acknowledged_by: null,
  },
];

export const session = (roles: ("clinician" | "admin")[]) => ({
  credential: "session",
  csrf_token: "csrf-test-token",
  expires_at: null,
  permissions: [],
  user: {
    id: "u1",
    username: roles.includes("admin") ? "admin" : "dr.lee",
    display_name: roles.includes("admin") ? "Admin" : "Dr. Lee",
    kind: "person",
    roles,
    is_active: true,
    created_at: "2026-11-01T00:00:00Z",
    last_login_at: null,
  },
});

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export const apiError = (status: number, code: string, message: string) =>
  json({ error: { code, message, details: {}, request_id: "req-1" } }, status);

// --- per-site serving ----------------------------------------------------------------------------------

/** A threshold as served: chosen on a site's cases (with its evidence), the version's own, or none. */
export const operatingPoint = (source: OperatingPoint["source"], threshold: number | null, overrides: Partial<OperatingPoint> = {}): OperatingPoint => ({
  threshold,
  source,
  target_sensitivity: source === "site" ? 0.9 : null,
  sensitivity: null,
  sensitivity_ci95: null,
  specificity: null,
  positives: null,
  negatives: null,
  chosen_on: null,
  chosen_at: null,
  ...overrides,
});

/** The task with its default (v2, at its own threshold), site nih following the default and site
 * ward-b served by its own version at a threshold chosen on its cases. */
export const servingTask = (defaultVersion: string, wardBVersion: string): Task => ({
  name: TASK,
  title: "Chest X-ray: pneumonia",
  description: "",
  modality: "CR",
  accepted_modalities: ["CR"],
  labels: ["normal", "pneumonia"],
  active_version: defaultVersion,
  default_version: defaultVersion,
  default_operating_point: operatingPoint("version", 0.42),
  target_sensitivity: 0.9,
  sites: [
    {
      site: "nih",
      version: defaultVersion,
      routing: "default",
      operating_point: operatingPoint("version", 0.42),
      changed_at: null,
      changed_by: null,
      reason: null,
    },
    {
      site: "ward-b",
      version: wardBVersion,
      routing: "site",
      operating_point: operatingPoint("site", 0.31, {
        sensitivity: 0.92,
        sensitivity_ci95: [0.8, 0.97],
        specificity: 0.71,
        positives: 25,
        negatives: 40,
        chosen_on: "65 verified cases of the site",
        chosen_at: "2026-11-12T10:00:00Z",
      }),
      changed_at: "2026-11-12T10:00:00Z",
      changed_by: "admin",
      reason: "adapted to the ward's portable unit",
    },
  ],
});
