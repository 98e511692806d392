// The Models screen with per-site serving, in headless Chromium, for docs/screenshots/models-sites.png.
// The built app (frontend/dist) is served from a local static server and every /api call is answered
// from the fixtures below (a task whose sites are served by the default, by the default at a threshold
// of their own, and by a version of their own; a job promoted for one site, one held back), so the
// picture does not depend on a trained database. The screen and its promote and site-rollback dialogs
// are checked with axe-core (WCAG 2.x A/AA, serious or critical findings fail).
//
//   scripts/frontend.sh build && cd frontend && node e2e/models-sites.screenshot.mjs [OUT.png]
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fixturePage, launchChromium, requireAccessible, serveDist, sessionOf } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, "..", "dist");
const out = resolve(process.argv[2] ?? join(here, "artifacts", "models-sites.png"));
if (!existsSync(join(dist, "index.html"))) {
  console.error("frontend/dist is missing: run scripts/frontend.sh build first");
  process.exit(2);
}

// --- fixtures, shaped as frontend/openapi.json says ------------------------------------------------
const TASK = "chest-xray-pneumonia";
const id = (n) => `${TASK}.v${n}`;
const metrics = (auc, n, sensitivity = 0.9, specificity = 0.82) => ({ auc, accuracy: 0.86, sensitivity, specificity, n });
const version = (n, fields) => ({
  id: id(n),
  task: TASK,
  status: "candidate",
  parent: null,
  weights_sha256: `${n}`.repeat(64).slice(0, 64),
  created_at: "2026-11-01T08:00:00Z",
  activated_at: null,
  is_default: false,
  serving_sites: [],
  metrics: {},
  ...fields,
});
const versions = [
  version(1, { status: "retired", activated_at: "2026-11-01T08:00:00Z", metrics: { "source-test": metrics(0.956, 624) } }),
  version(2, {
    status: "active",
    parent: id(1),
    created_at: "2026-11-18T14:02:00Z",
    activated_at: "2026-11-18T14:05:00Z",
    is_default: true,
    metrics: { "source-test": metrics(0.951, 624), "sequestered: every site": metrics(0.842, 160) },
  }),
  version(3, {
    parent: id(2),
    created_at: "2026-11-24T09:40:00Z",
    serving_sites: ["ward-b"],
    metrics: { "source-test": metrics(0.947, 624), "sequestered: site ward-b": metrics(0.881, 45, 0.9, 0.75) },
  }),
  version(4, {
    parent: id(2),
    created_at: "2026-11-26T16:10:00Z",
    metrics: { "source-test": metrics(0.95, 624), "sequestered: site nih": metrics(0.846, 88) },
  }),
];
const point = (source, threshold, evidence = {}) => ({
  threshold,
  source,
  target_sensitivity: 0.9,
  sensitivity: null,
  sensitivity_ci95: null,
  specificity: null,
  positives: null,
  negatives: null,
  chosen_on: null,
  chosen_at: null,
  ...evidence,
});
const nihPoint = point("site", 0.377, {
  sensitivity: 0.906,
  sensitivity_ci95: [0.856, 0.94],
  specificity: 0.781,
  positives: 181,
  negatives: 416,
  chosen_on: "verified predictions at the site",
  chosen_at: "2026-11-27T07:55:00Z",
});
const wardPoint = point("site", 0.31, {
  sensitivity: 0.92,
  sensitivity_ci95: [0.751, 0.978],
  specificity: 0.75,
  positives: 25,
  negatives: 40,
  chosen_on: "65 held-out verified cases of the site in training job 4f6e…",
  chosen_at: "2026-11-24T09:52:00Z",
});
const task = {
  name: TASK,
  title: "Chest X-ray: pneumonia",
  description: "Pneumonia on frontal chest radiographs.",
  modality: "CR",
  accepted_modalities: ["CR", "DX"],
  labels: ["normal", "pneumonia"],
  active_version: id(2),
  default_version: id(2),
  default_operating_point: point("version", 0.42),
  target_sensitivity: 0.9,
  sites: [
    { site: "nih", version: id(2), routing: "default", operating_point: nihPoint, changed_at: null, changed_by: null, reason: null },
    { site: "st-olav", version: id(2), routing: "default", operating_point: point("version", 0.42), changed_at: null, changed_by: null, reason: null },
    {
      site: "ward-b",
      version: id(3),
      routing: "site",
      operating_point: wardPoint,
      changed_at: "2026-11-24T09:52:00Z",
      changed_by: "training-job:4f6e2a10",
      reason: "promoted for site ward-b: AUC 0.881 vs 0.832",
    },
  ],
};
const comparison = (cases, n, patients, active_auc, candidate_auc, ci, better, sens) => ({
  cases,
  n,
  patients,
  counts_per_label: { normal: n - Math.round(n * 0.4), pneumonia: Math.round(n * 0.4) },
  active_auc,
  candidate_auc,
  auc_difference: Math.round((candidate_auc - active_auc) * 1e4) / 1e4,
  difference_ci95: ci,
  probability_better: better,
  active_threshold: sens ? sens[0] : null,
  candidate_threshold: sens ? sens[2] : null,
  active_sensitivity: sens ? sens[1] : null,
  candidate_sensitivity: sens ? sens[3] : null,
  active_specificity: sens ? 0.74 : null,
  candidate_specificity: sens ? 0.75 : null,
});
const policy = { noninferiority_margin: 0.02, superiority_confidence: 0.95, sensitivity_margin: 0.05, min_sequestered: 20 };
const job = (fields) => ({
  task: TASK,
  status: "succeeded",
  trigger: "manual",
  requested_by: "admin",
  parameters: {},
  progress: { stage: "done", seconds: 412.6 },
  error: null,
  cancel_requested: false,
  ...fields,
});
const jobs = [
  job({
    id: "9a0c7d52-0000-4000-8000-000000000002",
    site: "nih",
    candidate_version: id(4),
    training_set: { counts: { nih: { normal: 402, pneumonia: 176 } } },
    decision: "held_back",
    decision_reason:
      "held back: not proven better at site nih (AUC 0.846 vs 0.838; better in 71% of patient resamples, 95% needed)",
    evaluation: {
      promote_for_site: false,
      promote_as_default: false,
      reason: "held back",
      site: "nih",
      target: comparison("sequestered: site nih", 88, 81, 0.838, 0.846, [-0.012, 0.027], 0.71, [0.377, 0.906, 0.35, 0.918]),
      others: [],
      policy,
      looks: 2,
    },
    created_at: "2026-11-26T16:02:00Z",
    started_at: "2026-11-26T16:02:03Z",
    finished_at: "2026-11-26T16:10:00Z",
  }),
  job({
    id: "4f6e2a10-0000-4000-8000-000000000001",
    site: "ward-b",
    candidate_version: id(3),
    training_set: { counts: { "ward-b": { normal: 61, pneumonia: 42 } } },
    decision: "promoted",
    decision_reason:
      "promoted for site ward-b: AUC 0.881 vs 0.832 at site ward-b (better in 98% of patient resamples, n=45); not the default: the source gate set is unavailable, so forgetting cannot be ruled out",
    evaluation: {
      promote_for_site: true,
      promote_as_default: false,
      reason: "promoted for site ward-b",
      site: "ward-b",
      target: comparison("sequestered: site ward-b", 45, 41, 0.832, 0.881, [0.008, 0.094], 0.981, [0.42, 0.84, 0.31, 0.92]),
      others: [comparison("sequestered: site nih", 88, 81, 0.838, 0.829, [-0.031, 0.012], 0.24, [0.377, 0.906, 0.42, 0.894])],
      policy,
      looks: 1,
    },
    created_at: "2026-11-24T09:33:00Z",
    started_at: "2026-11-24T09:33:02Z",
    finished_at: "2026-11-24T09:52:00Z",
  }),
];
/** Parent, grandparent, ... */
const ancestors = (v) => {
  const parent = versions.find((other) => other.id === v.parent);
  return parent ? [parent.id, ...ancestors(parent)] : [];
};
const detail = (v) => ({
  ...v,
  lineage: ancestors(v),
  children: versions.filter((other) => other.parent === v.id).map((o) => o.id),
  card: { training_data: { sites: v.serving_sites.length ? v.serving_sites : ["source"], replay_fraction: 0.5 } },
  operating_points: task.sites.filter((s) => s.version === v.id && s.operating_point.source === "site").map((s) => ({ site: s.site, ...s.operating_point })),
});
const session = sessionOf({ id: "u1", username: "admin", display_name: "Admin", roles: ["admin"] });

function answer(path) {
  if (path === "/api/v1/auth/me") return session;
  if (path === "/api/v1/alerts") return [];
  if (path === "/api/v1/tasks") return [task];
  if (path === `/api/v1/tasks/${TASK}`) return task;
  if (path === `/api/v1/tasks/${TASK}/models`) return versions;
  if (path === "/api/v1/training-jobs") return jobs;
  const match = path.match(/^\/api\/v1\/models\/([^/]+)$/);
  const found = match && versions.find((v) => v.id === decodeURIComponent(match[1]));
  return found ? detail(found) : undefined;
}

// --- a static server for the built app ------------------------------------------------------------
const { server, base } = await serveDist(dist);

const browser = await launchChromium();
let failed = false;
try {
  const { page, errors } = await fixturePage(browser, answer);

  await page.goto(`${base}/#/models?task=${TASK}`);
  await page.getByTestId("site-serving").waitFor();
  await page.getByTestId("version-detail").getByText("Thresholds per site").waitFor();
  await page.getByTestId("gate-comparisons").first().waitFor();
  await requireAccessible(page, "the Models screen");
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot ${out}`);

  await page.locator("[data-testid=model-versions] tbody tr").first().getByRole("button", { name: "Promote…" }).click();
  await page.getByRole("dialog").getByLabel("Promote for").selectOption("site:st-olav");
  await page.getByRole("dialog").getByText("Scope:").waitFor();
  await requireAccessible(page, "the promote dialog");
  await page.screenshot({ path: out.replace(/\.png$/, "-promote.png") });
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();

  await page.locator("[data-testid=site-serving] tr[data-site=ward-b]").getByRole("button", { name: "Roll back site…" }).click();
  await page.getByRole("dialog").getByText("Scope:").waitFor();
  await requireAccessible(page, "the site rollback dialog");
  await page.screenshot({ path: out.replace(/\.png$/, "-rollback.png") });
  if (errors.length) throw new Error(`browser console: ${errors.join(" | ")}`);
} catch (error) {
  console.error(`FAILED: ${error instanceof Error ? error.message : error}`);
  failed = true;
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
