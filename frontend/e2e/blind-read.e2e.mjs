// A blind read in a real browser against a real backend that reads every case blind
// (IMAGING_AI_BLIND_READ_FRACTION=1.0): the clinician uploads an image, sees "Blind read" in the upload
// list and the worklist instead of the AI's label, opens the case and finds the image only (no label,
// probabilities, confidence or heatmap, and no heatmap request), gives the label read, and sees the
// answer revealed (label, probabilities, heatmap) with whether the read matched it; then the site's
// blind read on the Trust screen. Screenshots to ARTIFACTS_DIR. Exits non-zero on the first failed step.
//
//   BASE_URL=http://127.0.0.1:8000 CLINICIAN_USER=dr.lee CLINICIAN_PASSWORD=... IMAGE_PATH=a.png \
//   SITE=e2e-blind node e2e/blind-read.e2e.mjs
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { axeViolations, blocking, env, launchChromium } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const BASE_URL = env("BASE_URL").replace(/\/$/, "");
const CLINICIAN = { username: env("CLINICIAN_USER"), password: env("CLINICIAN_PASSWORD") };
const IMAGE = resolve(env("IMAGE_PATH"));
const TASK = env("TASK", "chest-xray-pneumonia");
const SITE = env("SITE", "e2e-blind");
const ARTIFACTS = resolve(env("ARTIFACTS_DIR", join(here, "artifacts", "blind-read")));
const TIMEOUT = Number(env("STEP_TIMEOUT_MS", "30000"));

mkdirSync(ARTIFACTS, { recursive: true });
for (const old of readdirSync(ARTIFACTS)) if (old.endsWith(".png")) rmSync(join(ARTIFACTS, old));

let step = "start";
const log = (message) => console.log(`[e2e blind] ${message}`);
function expect(condition, message) {
  if (!condition) throw new Error(`expectation failed: ${message}`);
}

const browser = await launchChromium();
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (message) => {
  if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) consoleErrors.push(message.text());
});
page.on("pageerror", (error) => consoleErrors.push(String(error)));
// Every heatmap request the page makes, and every prediction the API sends it (what was hidden).
const heatmapRequests = [];
page.on("request", (request) => {
  if (request.url().includes("/heatmap")) heatmapRequests.push(request.url());
});
const predictionAnswers = [];
page.on("response", async (response) => {
  if (!/\/api\/v1\/predictions\/[0-9a-f-]{36}$/.test(new URL(response.url()).pathname) || response.request().method() !== "GET") return;
  try {
    predictionAnswers.push(await response.json());
  } catch {
    // a navigation away while the body was read: nothing to record
  }
});

async function accessible(screen) {
  const violations = await axeViolations(page);
  const found = blocking(violations);
  expect(found.length === 0, `accessibility of ${screen}:\n  ${found.join("\n  ")}`);
  log(`accessibility: ${screen} has no serious or critical WCAG A/AA violations`);
}

async function shot(name, fullPage = false) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  log(`screenshot ${path}`);
}

try {
  step = "sign in";
  await page.goto(`${BASE_URL}/#/worklist`);
  await page.getByLabel("Username").fill(CLINICIAN.username);
  await page.getByLabel("Password").fill(CLINICIAN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("current-user").waitFor();

  step = "upload: the answer is hidden in the upload list";
  await page.getByRole("link", { name: "Upload", exact: true }).click();
  await page.getByLabel("Task").selectOption(TASK);
  await page.getByLabel("Site (optional)").fill(SITE);
  await page.locator("input[type=file]").setInputFiles([IMAGE]);
  const row = page.locator("[data-testid=uploads] li[data-state=done]");
  await row.waitFor({ timeout: 120_000 });
  const caseId = await row.getAttribute("data-prediction-id");
  const uploaded = await row.innerText();
  expect(uploaded.includes("Blind read"), `the upload shows a blind read (${uploaded})`);
  expect(!/confidence|\d%/.test(uploaded) && (await row.locator(".label-chip").count()) === 0, `the upload shows no answer (${uploaded})`);
  log(`uploaded ${caseId}: ${uploaded.replace(/\s+/g, " ")}`);

  step = "worklist: the row says Blind read";
  await page.goto(`${BASE_URL}/#/worklist?site=${encodeURIComponent(SITE)}`);
  const listed = page.locator(`[data-testid=worklist] tbody tr[data-prediction-id="${caseId}"]`);
  await listed.waitFor();
  const listedText = await listed.innerText();
  expect(listedText.includes("Blind read") && !/\d%/.test(listedText), `the worklist row hides the answer (${listedText})`);
  expect((await listed.locator(".label-chip").count()) === 0, "no AI label in the worklist row");
  await shot("01-worklist-blind");

  step = "case view before the read: the image only";
  await page.getByRole("button", { name: "Start reading" }).click();
  await page.waitForSelector(`.case[data-case-id="${caseId}"] [data-testid=viewer-canvas][data-ready=true]`);
  const notice = (await page.getByTestId("blind-notice").innerText()).trim();
  expect(notice === "Blind read — the AI's answer is hidden until you give your label.", `the blind-read notice (${notice})`);
  expect((await page.getByTestId("predicted-label").count()) === 0, "no AI label before the read");
  expect((await page.locator(".probabilities").count()) === 0, "no probabilities before the read");
  expect((await page.getByTestId("heatmap-toggle").count()) === 0, "no heatmap toggle before the read");
  const answerPanel = await page.getByTestId("ai-answer").innerText();
  expect(!/\d%|Confidence|Uncertainty/.test(answerPanel), `no confidence or probability before the read (${answerPanel})`);
  expect((await page.getByRole("button", { name: /Agree/ }).count()) === 0, "nothing to agree with on a blind read");
  const readButtons = await page.locator(".verdict-buttons button.read").allInnerTexts();
  const labels = readButtons.map((text) => text.replace(/^Read as\s+/, "").replace(/\s*\d\s*$/, "").trim());
  expect(labels.length >= 2, `one button per label (${readButtons})`);
  // The heatmap key does nothing, and no heatmap is asked for.
  await page.getByTestId("viewer-canvas").focus();
  await page.keyboard.press("h");
  await page.waitForTimeout(500);
  expect(heatmapRequests.length === 0, `no heatmap requested before the read (${heatmapRequests})`);
  const hiddenAnswer = predictionAnswers.find((answer) => answer.id === caseId);
  expect(
    hiddenAnswer && hiddenAnswer.answer_hidden === true && hiddenAnswer.predicted_label === null && hiddenAnswer.probabilities === null,
    `the API withheld the answer (${JSON.stringify(hiddenAnswer)})`,
  );
  await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
  await shot("02-case-blind-before");
  await accessible("case view, blind read");

  step = "give the label";
  const read = labels[0];
  await page.getByRole("button", { name: new RegExp(`^Read as ${read}`) }).click();

  step = "case view after the read: the answer revealed";
  const revealedLabel = page.getByTestId("predicted-label");
  await revealedLabel.waitFor();
  const ai = (await revealedLabel.innerText()).trim();
  const probabilities = await page.locator(".probabilities tbody tr").allInnerTexts();
  expect(probabilities.length === labels.length && probabilities.every((text) => /\d+\.\d%/.test(text)), `the probabilities are shown (${probabilities})`);
  const outcome = page.getByTestId("blind-outcome");
  await outcome.waitFor();
  const outcomeText = await outcome.innerText();
  const matched = (await outcome.getAttribute("data-matched")) === "true";
  expect(matched === (ai === read), `the outcome says whether the read matched (read ${read}, AI ${ai}: ${outcomeText})`);
  expect(outcomeText.includes(read), `the outcome names the read (${outcomeText})`);
  log(`read ${read}; the AI answered ${ai}: ${outcomeText}`);
  expect((await page.locator(".case").getAttribute("data-case-id")) === caseId, "reading stays on the case to show the answer");
  const history = await page.getByTestId("verdict-history").innerText();
  expect(history.includes(`read ${read}`) && history.includes("blind"), `the history shows the blind read (${history})`);
  expect((await page.getByTestId("label-of-record").innerText()).trim() === read, "the read is the label of record");
  await page.getByTestId("heatmap-toggle").click();
  await page.waitForSelector("[data-testid=viewer-canvas][data-heatmap=shown]", { timeout: 120_000 });
  expect(heatmapRequests.length > 0, "the heatmap is requested once the answer is revealed");
  await page.waitForTimeout(300);
  await shot("03-case-blind-after");
  await accessible("case view, revealed");

  step = "trust: the site's blind read";
  await page.goto(`${BASE_URL}/#/trust?task=${encodeURIComponent(TASK)}&site=${encodeURIComponent(SITE)}`);
  const current = page.getByTestId("current-level");
  await current.waitFor();
  const blindReads = await current.getByTestId("blind-reads").innerText();
  expect(blindReads.startsWith("1 read, 0 waiting"), `the site counts its blind read (${blindReads})`);
  expect(blindReads.includes("100% of cases drawn"), `every case is drawn here (${blindReads})`);
  const classRows = await current.locator("[data-testid=class-table] tbody tr").count();
  expect(classRows === labels.length, `one certification row per label (${classRows})`);
  await page.waitForTimeout(300);
  await shot("04-trust-blind-site", true);
  await accessible("trust, blind-read site");

  expect(consoleErrors.length === 0, `no errors in the browser console: ${consoleErrors.join(" | ")}`);
  log("all steps passed");
} catch (error) {
  console.error(`[e2e blind] FAILED at step "${step}": ${error instanceof Error ? error.message : error}`);
  await shot(`failure-${step.replace(/[^a-z0-9]+/gi, "-")}`).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
