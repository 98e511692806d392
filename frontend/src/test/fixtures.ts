// Answers of the autonomy, metrics, calibration, alerts and tasks endpoints, shaped as the schema says.
import type {
  Alert,
  AutonomyOverview,
  Calibration,
  ClassEvidence,
  Drift,
  ErrorBound,
  OperatingPoint,
  Prediction,
  Proportion,
  SiteAutonomy,
  Task,
  TaskMetrics,
  ThresholdStep,
} from "../api/client";

export const TASK = "chest-xray-pneumonia";
export const VERSION = `${TASK}.v1`;

export const proportion = (successes: number, n: number, low: number, high: number): Proportion => ({
  successes,
  n,
  rate: n ? Math.round((successes / n) * 10_000) / 10_000 : null,
  low,
  high,
});

export const bound = (blindReads: number, errors: number, cases: number, upper: number, lower = 0): ErrorBound => ({
  cases,
  blind_reads: blindReads,
  errors,
  waiting: 0,
  estimate: blindReads ? Math.round((errors / blindReads) * 10_000) / 10_000 : null,
  upper,
  lower,
});

export const step = (threshold: number, certified: boolean, b: ErrorBound): ThresholdStep => ({ threshold, certified, bound: b });

/** A label's certification: its steps, most conservative first, up to the first failure. */
export const labelEvidence = (label: string, target: number, steps: ThresholdStep[], overrides: Partial<ClassEvidence> = {}): ClassEvidence => ({
  label,
  target,
  alpha: 0.025,
  certified_threshold: [...steps].reverse().find((one) => one.certified)?.threshold ?? null,
  steps,
  in_force_threshold: null,
  in_force: null,
  exceeded: false,
  ...overrides,
});

/** Normal certified down to 0.97 (the bound at 0.95 is 5.8%, above its 5% target); pneumonia not
 * certified at its first step. */
export const nihClasses = (): ClassEvidence[] => [
  labelEvidence("normal", 0.05, [
    step(0.995, true, bound(60, 0, 300, 0.031)),
    step(0.99, true, bound(80, 1, 390, 0.042)),
    step(0.98, true, bound(96, 1, 450, 0.046)),
    step(0.97, true, bound(112, 1, 520, 0.049)),
    step(0.95, false, bound(130, 3, 610, 0.058, 0.004)),
  ]),
  labelEvidence("pneumonia", 0.15, [step(0.995, false, bound(6, 0, 28, 0.41))]),
];

const evidence = () => ({
  verdicts: 250,
  agreement: proportion(240, 250, 0.928, 0.978),
  sensitivity: proportion(95, 100, 0.888, 0.978),
  specificity: proportion(145, 150, 0.924, 0.986),
  calibration_error: 0.031,
});

const drift = (overrides: Partial<Drift> = {}): Drift => ({
  drifted: false,
  statistic: 1.84,
  threshold: 5.2,
  images: 500,
  which: null,
  out_of_distribution: 6,
  out_of_distribution_rate: 0.012,
  ...overrides,
});

const site = (name: string, overrides: Partial<SiteAutonomy> = {}): SiteAutonomy => ({
  site: name,
  level: "supervised",
  class_thresholds: {},
  blind_read_fraction: 0.2,
  level_source: "default",
  changed_by: null,
  changed_at: null,
  reason: null,
  model_version: VERSION,
  cases: 610,
  blind_reads: 136,
  blind_reads_pending: 4,
  classes: nihClasses(),
  evidence: evidence(),
  drift: drift(),
  recommendation: { level: "supervised", class_thresholds: {}, reason: "keep supervision" },
  ...overrides,
});

export const overview: AutonomyOverview = {
  task: TASK,
  error_targets: { normal: 0.05, pneumonia: 0.15 },
  alpha: 0.05,
  sites: [
    site("nih", {
      recommendation: {
        level: "semi_autonomous",
        class_thresholds: { normal: 0.97, pneumonia: null },
        reason: "normal: certified at confidence >= 0.97 (error bound 0.049 < 0.05 on 112 blind reads); pneumonia: not certified (error bound 0.410 vs target 0.15)",
      },
    }),
    site("ward-b", {
      level: "semi_autonomous",
      class_thresholds: { normal: 0.98, pneumonia: null },
      level_source: "site",
      changed_by: "admin",
      changed_at: "2026-11-20T10:00:00Z",
      reason: "quality board",
      classes: [
        labelEvidence("normal", 0.05, [step(0.995, true, bound(40, 0, 200, 0.036)), step(0.98, true, bound(70, 0, 330, 0.041)), step(0.97, false, bound(75, 2, 360, 0.071))], {
          in_force_threshold: 0.98,
          in_force: bound(12, 0, 64, 0.034),
        }),
        labelEvidence("pneumonia", 0.15, [step(0.995, false, bound(3, 1, 11, 0.87))]),
      ],
      drift: drift({ drifted: true, statistic: 6.31, which: "output_high", out_of_distribution: 41, out_of_distribution_rate: 0.082 }),
    }),
    site("ward-c", {
      level_source: "version_changed",
      changed_by: "admin",
      changed_at: "2026-11-18T09:00:00Z",
      reason: "earned by v0",
      blind_reads: 0,
      blind_reads_pending: 2,
      cases: 12,
      classes: [labelEvidence("normal", 0.05, []), labelEvidence("pneumonia", 0.15, [])],
      drift: drift({ statistic: null, images: 12, out_of_distribution: 0, out_of_distribution_rate: null }),
      recommendation: { level: "supervised", class_thresholds: {}, reason: "normal: not certified (error bound n/a vs target 0.05)" },
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
  out_of_distribution_rate: null,
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

/** A prediction as the API answers it, its answer shown; `hiddenPrediction` is the same case awaiting
 * its blind read, with every answer field withheld as the API withholds them. */
export const prediction = (overrides: Partial<Prediction> = {}): Prediction => ({
  id: "5d0c8e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6",
  image_id: "0b8f1f7e-3c39-4d53-9a55-0f5b9d3e2c11",
  task: TASK,
  model_version: VERSION,
  probabilities: { normal: 0.08, pneumonia: 0.92 },
  predicted_label: "pneumonia",
  confidence: 0.92,
  uncertainty: 0.4,
  status: "pending_review",
  autonomy_level: "supervised",
  finalized_by: null,
  audit_sample: false,
  site: "nih",
  routing: "default",
  decision_threshold: null,
  operating_point: "argmax",
  accession_number: null,
  external_id: null,
  inference_ms: 30,
  created_at: "2026-11-27T09:30:01Z",
  blind_read: false,
  answer_hidden: false,
  out_of_distribution: false,
  ood_distance: 18.2,
  ...overrides,
});

export const hiddenPrediction = (overrides: Partial<Prediction> = {}): Prediction =>
  prediction({
    blind_read: true,
    answer_hidden: true,
    probabilities: null,
    predicted_label: null,
    confidence: null,
    uncertainty: null,
    decision_threshold: null,
    ood_distance: null,
    ...overrides,
  });

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
