// The Trust screen with per-label certification, in headless Chromium, for docs/screenshots/trust.png.
// A short browser run certifies nothing (a level needs hundreds of blind reads), so the built app
// (frontend/dist) is served from a local static server and every /api call is answered from the
// fixtures below: site nih with "normal" certified down to 0.97 and "pneumonia" to 0.99 (recommended:
// semi-autonomous), site ward-b semi-autonomous in force whose drift test fired (recommended:
// supervised), site st-olav whose level was earned by a version that no longer serves it. The screen
// and the raise-level dialog are checked with axe-core (WCAG 2.x A/AA, serious or critical findings
// fail).
//
//   scripts/frontend.sh build && cd frontend && node e2e/trust.screenshot.mjs [OUT.png]
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fixturePage, launchChromium, requireAccessible, serveDist, sessionOf } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, "..", "dist");
const out = resolve(process.argv[2] ?? join(here, "artifacts", "trust.png"));
if (!existsSync(join(dist, "index.html"))) {
  console.error("frontend/dist is missing: run scripts/frontend.sh build first");
  process.exit(2);
}

// --- fixtures, shaped as frontend/openapi.json says ------------------------------------------------
const TASK = "chest-xray-pneumonia";
const VERSION = `${TASK}.v2`;
const TARGETS = { normal: 0.05, pneumonia: 0.15 };
const round = (value) => Math.round(value * 10_000) / 10_000;
const bound = (blindReads, errors, cases, upper, lower = 0) => ({
  cases,
  blind_reads: blindReads,
  errors,
  estimate: blindReads ? round(errors / blindReads) : null,
  upper,
  lower,
});
const step = (threshold, certified, b) => ({ threshold, certified, bound: b });
const label = (name, steps, extra = {}) => ({
  label: name,
  target: TARGETS[name],
  alpha: 0.025,
  certified_threshold: [...steps].reverse().find((s) => s.certified)?.threshold ?? null,
  steps,
  in_force_threshold: null,
  in_force: null,
  exceeded: false,
  ...extra,
});
const proportion = (successes, n, low, high) => ({ successes, n, rate: n ? round(successes / n) : null, low, high });
const site = (name, fields) => ({
  site: name,
  level: "supervised",
  class_thresholds: {},
  blind_read_fraction: 0.2,
  level_source: "default",
  changed_by: null,
  changed_at: null,
  reason: null,
  model_version: VERSION,
  cases: 0,
  blind_reads: 0,
  blind_reads_pending: 0,
  classes: [],
  evidence: { verdicts: 0, agreement: proportion(0, 0, 0, 0), sensitivity: null, specificity: null, calibration_error: null },
  drift: { drifted: false, statistic: 1.2, threshold: 7.8, images: 500, which: null, out_of_distribution: 4, out_of_distribution_rate: 0.008 },
  recommendation: { level: "supervised", class_thresholds: {}, reason: "keep supervision" },
  ...fields,
});
const autonomy = {
  task: TASK,
  error_targets: TARGETS,
  alpha: 0.05,
  sites: [
    site("nih", {
      cases: 1840,
      blind_reads: 361,
      blind_reads_pending: 7,
      classes: [
        label("normal", [
          step(0.995, true, bound(118, 0, 590, 0.026)),
          step(0.99, true, bound(163, 1, 815, 0.031)),
          step(0.98, true, bound(201, 2, 1004, 0.037)),
          step(0.97, true, bound(226, 4, 1130, 0.046, 0.004)),
          step(0.95, false, bound(251, 7, 1255, 0.061, 0.011)),
        ]),
        label("pneumonia", [
          step(0.995, true, bound(41, 1, 205, 0.098)),
          step(0.99, true, bound(58, 3, 290, 0.131, 0.008)),
          step(0.98, false, bound(71, 6, 355, 0.172, 0.029)),
        ]),
      ],
      evidence: {
        verdicts: 412,
        agreement: proportion(381, 412, 0.896, 0.945),
        sensitivity: proportion(131, 146, 0.84, 0.937),
        specificity: proportion(250, 266, 0.905, 0.963),
        calibration_error: 0.028,
      },
      drift: { drifted: false, statistic: 2.31, threshold: 7.8, images: 500, which: null, out_of_distribution: 6, out_of_distribution_rate: 0.012 },
      recommendation: {
        level: "semi_autonomous",
        class_thresholds: { normal: 0.97, pneumonia: 0.99 },
        reason:
          "normal: certified at confidence >= 0.97 (error bound 0.046 < 0.05 on 226 blind reads); pneumonia: certified at confidence >= 0.99 (error bound 0.131 < 0.15 on 58 blind reads)",
      },
    }),
    site("ward-b", {
      level: "semi_autonomous",
      class_thresholds: { normal: 0.98, pneumonia: null },
      level_source: "site",
      changed_by: "admin",
      changed_at: "2026-11-20T10:00:00Z",
      reason: "Certification reviewed at the quality board",
      cases: 930,
      blind_reads: 181,
      blind_reads_pending: 3,
      classes: [
        label("normal", [step(0.995, true, bound(70, 0, 350, 0.041)), step(0.99, true, bound(93, 1, 466, 0.044)), step(0.98, true, bound(110, 1, 551, 0.048)), step(0.97, false, bound(121, 4, 605, 0.068))], {
          in_force_threshold: 0.98,
          in_force: bound(29, 1, 145, 0.112),
        }),
        label("pneumonia", [step(0.995, false, bound(9, 1, 44, 0.52))]),
      ],
      evidence: {
        verdicts: 205,
        agreement: proportion(186, 205, 0.86, 0.937),
        sensitivity: proportion(52, 61, 0.743, 0.922),
        specificity: proportion(134, 144, 0.877, 0.962),
        calibration_error: 0.047,
      },
      drift: { drifted: true, statistic: 9.42, threshold: 7.8, images: 500, which: "features", out_of_distribution: 38, out_of_distribution_rate: 0.076 },
      recommendation: { level: "supervised", class_thresholds: {}, reason: "the drift test fired at this site (features, 9.42 > 7.8)" },
    }),
    site("st-olav", {
      level_source: "version_changed",
      changed_by: "admin",
      changed_at: "2026-11-02T08:30:00Z",
      reason: "Earned by chest-xray-pneumonia.v1",
      cases: 64,
      blind_reads: 11,
      blind_reads_pending: 2,
      classes: [label("normal", [step(0.995, false, bound(4, 0, 20, 0.61))]), label("pneumonia", [step(0.995, false, bound(1, 0, 6, 0.97))])],
      evidence: { verdicts: 30, agreement: proportion(27, 30, 0.744, 0.965), sensitivity: null, specificity: null, calibration_error: 0.081 },
      drift: { drifted: false, statistic: 0.8, threshold: 7.8, images: 64, which: null, out_of_distribution: 0, out_of_distribution_rate: 0 },
      recommendation: { level: "supervised", class_thresholds: {}, reason: "normal: not certified (error bound 0.610 vs target 0.05); pneumonia: not certified (error bound 0.970 vs target 0.15)" },
    }),
  ],
};
const task = {
  name: TASK,
  title: "Chest X-ray: pneumonia",
  description: "",
  modality: "CR",
  accepted_modalities: ["CR", "DX"],
  labels: ["normal", "pneumonia"],
  active_version: VERSION,
  default_version: VERSION,
  default_operating_point: null,
  target_sensitivity: 0.9,
  sites: [],
};
/** Agreement every 25 cases: `rates` per bucket, as the metrics endpoint gives it. */
const series = (name, rates) => ({
  site: name,
  model_version: VERSION,
  points: rates.map((rate, index) => {
    const n = 25;
    const successes = Math.round(rate * n);
    const spread = 1.96 * Math.sqrt((rate * (1 - rate)) / n) + 0.03;
    return {
      start: `2026-11-${String(index + 1).padStart(2, "0")}T00:00:00Z`,
      end: `2026-11-${String(index + 2).padStart(2, "0")}T00:00:00Z`,
      predictions: n,
      finalised_automatically: 0,
      verdicts: n,
      agreement: proportion(successes, n, Math.max(0, rate - spread), Math.min(1, rate + spread)),
      sensitivity: null,
      specificity: null,
      calibration_error: null,
      out_of_distribution_rate: 0.01,
    };
  }),
});
const metrics = {
  task: TASK,
  bucket: "cases",
  series: [
    series("nih", [0.88, 0.92, 0.92, 0.96, 0.92, 0.96, 0.96, 0.92, 1, 0.96, 0.92, 0.96]),
    series("ward-b", [0.92, 0.96, 0.92, 0.88, 0.84, 0.8]),
    series("st-olav", [0.88]),
  ],
};
const calibration = {
  task: TASK,
  model_version: VERSION,
  site: "nih",
  bins: Array.from({ length: 10 }, (_, index) => {
    const low = index / 10;
    const n = [0, 0, 0, 0, 0, 31, 44, 58, 96, 183][index];
    return { low, high: (index + 1) / 10, n, confidence_mean: n ? low + 0.055 : null, accuracy: n ? Math.min(1, low + [0, 0, 0, 0, 0, 0.02, 0.05, 0.07, 0.06, 0.08][index]) : null };
  }),
};
const session = sessionOf({ id: "u1", username: "admin", display_name: "Admin", roles: ["admin"] });

function answer(path) {
  if (path === "/api/v1/auth/me") return session;
  if (path === "/api/v1/alerts") return [];
  if (path === "/api/v1/tasks") return [task];
  if (path === `/api/v1/tasks/${TASK}/autonomy`) return autonomy;
  if (path === `/api/v1/tasks/${TASK}/metrics`) return metrics;
  if (path === `/api/v1/tasks/${TASK}/calibration`) return calibration;
  return undefined;
}

// --- a static server for the built app ------------------------------------------------------------
const { server, base } = await serveDist(dist);

const browser = await launchChromium();
let failed = false;
try {
  const { page, errors } = await fixturePage(browser, answer);

  await page.goto(`${base}/#/trust?task=${TASK}&site=nih`);
  await page.getByTestId("class-table").waitFor();
  await page.locator("[data-testid=agreement-chart] svg .ci-point").first().waitFor();
  await page.locator("[data-testid=reliability-diagram] svg .reliability-bin").first().waitFor();
  // The whole sequence of one label, opened.
  await page.locator("details.steps[data-label=normal] summary").click();
  await requireAccessible(page, "the Trust screen");
  await page.waitForTimeout(200);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot ${out}`);

  await page.getByRole("button", { name: "Apply recommendation…" }).click();
  await page.getByRole("dialog").getByText("Confidence thresholds per label").waitFor();
  await requireAccessible(page, "the raise-level dialog");
  await page.screenshot({ path: out.replace(/\.png$/, "-raise.png") });
  console.log(`screenshot ${out.replace(/\.png$/, "-raise.png")}`);
  await page.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();

  await page.goto(`${base}/#/trust?task=${TASK}&site=ward-b`);
  await page.locator("[data-testid=current-level][data-site=ward-b]").waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await requireAccessible(page, "a drifted site");
  await page.screenshot({ path: out.replace(/\.png$/, "-drifted.png") });
  console.log(`screenshot ${out.replace(/\.png$/, "-drifted.png")}`);
  if (errors.length) throw new Error(`browser console: ${errors.join(" | ")}`);
} catch (error) {
  console.error(`FAILED: ${error instanceof Error ? error.message : error}`);
  failed = true;
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
