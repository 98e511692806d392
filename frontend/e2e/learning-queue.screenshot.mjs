// "Teach the model" (the learning queue) in headless Chromium, for docs/screenshots/learning-queue.png.
// The built app (frontend/dist) is served from a local static server and every /api call is answered
// from the fixtures below (a new site whose serving version has too few verified answers there, so the
// queue is drawn by estimated error per predicted label, with a random share; one case awaiting its
// blind read; one scored by a version that no longer serves the site), so the picture does not depend on
// a database with waiting cases. The screen is checked with axe-core (WCAG 2.x A/AA, serious or critical
// findings fail).
//
//   scripts/frontend.sh build && cd frontend && node e2e/learning-queue.screenshot.mjs [OUT.png]
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fixturePage, launchChromium, requireAccessible, serveDist, sessionOf } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, "..", "dist");
const out = resolve(process.argv[2] ?? join(here, "artifacts", "learning-queue.png"));
if (!existsSync(join(dist, "index.html"))) {
  console.error("frontend/dist is missing: run scripts/frontend.sh build first");
  process.exit(2);
}

// --- fixtures, shaped as frontend/openapi.json says ------------------------------------------------
const TASK = "chest-xray-pneumonia";
const SITE = "st-olav";
const SERVING = `${TASK}.v1`;
const PREVIOUS = `${TASK}.v2`;
const point = (source, threshold) => ({
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
});
const task = (name, title, labels) => ({
  name,
  title,
  description: "",
  modality: "CR",
  accepted_modalities: ["CR", "DX"],
  labels,
  active_version: `${name}.v1`,
  default_version: `${name}.v1`,
  default_operating_point: point("version", 0.42),
  target_sensitivity: 0.9,
  sites: [],
});
const tasks = [task(TASK, "Chest X-ray: pneumonia", ["normal", "pneumonia"]), task("brain-mri-tumour", "Brain MRI: tumour", ["no_tumour", "glioma", "meningioma", "pituitary"])];

let serial = 0;
const prediction = (minutesAgo, label, confidence, fields = {}) => {
  serial += 1;
  const other = label === "normal" ? "pneumonia" : "normal";
  return {
    id: `5d0c8e7a-1b2c-4d3e-8f90-${String(serial).padStart(12, "0")}`,
    image_id: `0b8f1f7e-3c39-4d53-9a55-${String(serial).padStart(12, "0")}`,
    task: TASK,
    model_version: SERVING,
    probabilities: { [label]: confidence, [other]: Math.round((1 - confidence) * 1000) / 1000 },
    predicted_label: label,
    confidence,
    uncertainty: Math.round((1 - Math.abs(2 * confidence - 1)) * 100) / 100,
    status: "pending_review",
    autonomy_level: "supervised",
    finalized_by: null,
    audit_sample: false,
    site: SITE,
    routing: "default",
    decision_threshold: 0.42,
    operating_point: "version",
    accession_number: null,
    external_id: null,
    inference_ms: 31,
    created_at: new Date(Date.parse("2026-11-27T11:00:00Z") - minutesAgo * 60_000).toISOString(),
    blind_read: false,
    answer_hidden: false,
    out_of_distribution: false,
    ood_distance: 17.4,
    ...fields,
  };
};
const hidden = (minutesAgo) =>
  prediction(minutesAgo, "normal", 0.5, {
    blind_read: true,
    answer_hidden: true,
    probabilities: null,
    predicted_label: null,
    confidence: null,
    uncertainty: null,
    decision_threshold: null,
    ood_distance: null,
  });

const STATE = `3 of 20 verified answers of ${SERVING} here`;
const stratified = (label, rate) =>
  `answers of \`${label}\` here are wrong an estimated ${rate}% of the time (${STATE}: sampled by estimated error)`;
const RANDOM = "drawn at random: keeps what the model learns from (and the gate's evidence) unbiased";
const HIDDEN = "chosen for learning; why is shown once the blind read is in";
const entry = (rank, strategy, reason, p, stale = false) => ({
  rank,
  strategy,
  reason,
  scored_by: stale ? PREVIOUS : SERVING,
  stale,
  prediction: p,
});
// Rank 4 and 7 are the random share's places (0.3: position i when floor((i+1) x 0.3) > floor(i x 0.3)).
const items = [
  entry(1, "stratified", stratified("normal", 41), prediction(14, "normal", 0.93)),
  entry(2, "stratified", stratified("normal", 41), prediction(95, "normal", 0.71)),
  entry(3, "stratified", stratified("pneumonia", 33), prediction(48, "pneumonia", 0.88)),
  entry(4, "random", RANDOM, prediction(210, "pneumonia", 0.64)),
  entry(5, "stratified", HIDDEN, hidden(36)),
  entry(6, "stratified", stratified("normal", 41), prediction(300, "normal", 0.97, { model_version: PREVIOUS }), true),
  entry(7, "random", RANDOM, prediction(5, "normal", 0.58)),
  entry(8, "stratified", stratified("pneumonia", 33), prediction(130, "pneumonia", 0.76, { out_of_distribution: true, ood_distance: 41.2 })),
];
const queue = { items, total: items.length, limit: 20, offset: 0, random_share: 0.3 };

const session = sessionOf({ id: "u2", username: "dr.lee", display_name: "Dr Lee", roles: ["clinician"] });

function answer(path) {
  if (path === "/api/v1/auth/me") return session;
  if (path === "/api/v1/alerts") return [];
  if (path === "/api/v1/tasks") return tasks;
  if (path === "/api/v1/learning-queue") return queue;
  return undefined;
}

// --- a static server for the built app ------------------------------------------------------------
const { server, base } = await serveDist(dist);

const browser = await launchChromium();
let failed = false;
try {
  const asked = [];
  const { page, errors } = await fixturePage(browser, answer, (url) => {
    if (url.pathname === "/api/v1/learning-queue") asked.push(url.search);
  });

  await page.goto(`${base}/#/learn?task=${TASK}&site=${SITE}`);
  await page.getByTestId("learning-queue").waitFor();
  const ranks = await page.locator("[data-testid=learning-queue] tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-rank")));
  if (ranks.join(",") !== "1,2,3,4,5,6,7,8") throw new Error(`rows out of order: ${ranks}`);
  if (!asked.some((search) => search.includes(`task=${TASK}`) && search.includes(`site=${SITE}`))) throw new Error(`queue asked as ${asked}`);
  await requireAccessible(page, "the learning queue");
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot ${out}`);
  if (errors.length) throw new Error(`browser console: ${errors.join(" | ")}`);
} catch (error) {
  console.error(`FAILED: ${error instanceof Error ? error.message : error}`);
  failed = true;
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
