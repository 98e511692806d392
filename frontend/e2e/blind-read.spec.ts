// A blind read in a real browser against a real backend that reads every case blind
// (IMAGING_AI_BLIND_READ_FRACTION=1.0): the clinician uploads an image, sees "Blind read" in the upload
// list and the worklist instead of the AI's label, opens the case and finds the image only (no label,
// probabilities, confidence or heatmap, and no heatmap request), gives the label read, and sees the
// answer revealed (label, probabilities, heatmap) with whether the read matched it; then the site's
// blind read on the Trust screen. One page goes through the scenarios in order (a failed one skips the
// rest); screenshots to ARTIFACTS_DIR, a failed scenario's trace and screenshot to the run's output folder.
//
//   BASE_URL=http://127.0.0.1:8000 CLINICIAN_USER=dr.lee CLINICIAN_PASSWORD=... IMAGE_PATH=a.png \
//   SITE=e2e-blind npx playwright test e2e/blind-read.spec.ts
import { expect, test, type BrowserContext, type Page } from "@playwright/test";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { axeViolations, blocking, env, openPage } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const BASE_URL = env("BASE_URL").replace(/\/$/, "");
const CLINICIAN = { username: env("CLINICIAN_USER"), password: env("CLINICIAN_PASSWORD") };
const IMAGE = resolve(env("IMAGE_PATH"));
const TASK = env("TASK", "chest-xray-pneumonia");
const SITE = env("SITE", "e2e-blind");
const ARTIFACTS = resolve(env("ARTIFACTS_DIR", join(here, "artifacts", "blind-read")));
const TIMEOUT = Number(env("STEP_TIMEOUT_MS", "30000"));

const log = (message: string) => console.log(`[e2e blind] ${message}`);

let context: BrowserContext;
let page: Page;
const consoleErrors: string[] = [];
// Every heatmap request the page makes, and every prediction the API sends it (what was hidden).
const heatmapRequests: string[] = [];
interface PredictionAnswer {
  id: string;
  answer_hidden?: boolean;
  predicted_label?: string | null;
  probabilities?: Record<string, number> | null;
}
const predictionAnswers: PredictionAnswer[] = [];

// What one scenario learns and a later one needs.
let caseId = "";
let labels: string[] = [];

async function accessible(screen: string) {
  await test.step(`accessibility of ${screen}`, async () => {
    const found = blocking(await axeViolations(page));
    expect(found, `accessibility of ${screen}:\n  ${found.join("\n  ")}`).toEqual([]);
    log(`accessibility: ${screen} has no serious or critical WCAG A/AA violations`);
  });
}

async function shot(name: string, fullPage = false) {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  log(`screenshot ${path}`);
}

test.describe.serial("a blind read: the AI's answer stays hidden until the clinician's label is in", () => {
  test.beforeAll(async ({ browser }) => {
    ({ context, page } = await openPage(browser, ARTIFACTS, TIMEOUT, consoleErrors));
    page.on("request", (request) => {
      if (request.url().includes("/heatmap")) heatmapRequests.push(request.url());
    });
    page.on("response", async (response) => {
      if (!/\/api\/v1\/predictions\/[0-9a-f-]{36}$/.test(new URL(response.url()).pathname) || response.request().method() !== "GET") return;
      try {
        predictionAnswers.push(await response.json());
      } catch {
        // a navigation away while the body was read: nothing to record
      }
    });
  });

  test.afterAll(async () => {
    await context?.close();
  });

  test("a clinician's upload read blind says Blind read and shows no answer", async () => {
    await page.goto(`${BASE_URL}/#/worklist`);
    await page.getByLabel("Username").fill(CLINICIAN.username);
    await page.getByLabel("Password").fill(CLINICIAN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("current-user").waitFor();

    await page.getByRole("link", { name: "Upload", exact: true }).click();
    await page.getByLabel("Task").selectOption(TASK);
    await page.getByLabel("Site (optional)").fill(SITE);
    await page.locator("input[type=file]").setInputFiles([IMAGE]);
    const row = page.locator("[data-testid=uploads] li[data-state=done]");
    await row.waitFor({ timeout: 120_000 });
    caseId = (await row.getAttribute("data-prediction-id")) ?? "";
    expect(caseId, "the upload names its case").not.toBe("");
    const uploaded = await row.innerText();
    expect(uploaded, "the upload shows a blind read").toContain("Blind read");
    expect(!/confidence|\d%/.test(uploaded) && (await row.locator(".label-chip").count()) === 0, `the upload shows no answer (${uploaded})`).toBe(true);
    log(`uploaded ${caseId}: ${uploaded.replace(/\s+/g, " ")}`);
  });

  test("the worklist row says Blind read, with no AI label or percentage", async () => {
    await page.goto(`${BASE_URL}/#/worklist?site=${encodeURIComponent(SITE)}`);
    const listed = page.locator(`[data-testid=worklist] tbody tr[data-prediction-id="${caseId}"]`);
    await listed.waitFor();
    const listedText = await listed.innerText();
    expect(listedText.includes("Blind read") && !/\d%/.test(listedText), `the worklist row hides the answer (${listedText})`).toBe(true);
    expect(await listed.locator(".label-chip").count(), "no AI label in the worklist row").toBe(0);
    await shot("01-worklist-blind");
  });

  test("before the read the case view shows the image only, requests no heatmap, and the API withheld the answer", async () => {
    await page.getByRole("button", { name: "Start reading" }).click();
    await page.waitForSelector(`.case[data-case-id="${caseId}"] [data-testid=viewer-canvas][data-ready=true]`);
    const notice = (await page.getByTestId("blind-notice").innerText()).trim();
    expect(notice, "the blind-read notice").toBe("Blind read — the AI's answer is hidden until you give your label.");
    expect(await page.getByTestId("predicted-label").count(), "no AI label before the read").toBe(0);
    expect(await page.locator(".probabilities").count(), "no probabilities before the read").toBe(0);
    expect(await page.getByTestId("heatmap-toggle").count(), "no heatmap toggle before the read").toBe(0);
    const answerPanel = await page.getByTestId("ai-answer").innerText();
    expect(answerPanel, "no confidence or probability before the read").not.toMatch(/\d%|Confidence|Uncertainty/);
    expect(await page.getByRole("button", { name: /Agree/ }).count(), "nothing to agree with on a blind read").toBe(0);
    const readButtons = await page.locator(".verdict-buttons button.read").allInnerTexts();
    labels = readButtons.map((text) => text.replace(/^Read as\s+/, "").replace(/\s*\d\s*$/, "").trim());
    expect(labels.length, `one button per label (${readButtons})`).toBeGreaterThanOrEqual(2);
    // The heatmap key does nothing, and no heatmap is asked for.
    await page.getByTestId("viewer-canvas").focus();
    await page.keyboard.press("h");
    await page.waitForTimeout(500);
    expect(heatmapRequests, "no heatmap requested before the read").toEqual([]);
    const hiddenAnswer = predictionAnswers.find((answer) => answer.id === caseId);
    expect(
      hiddenAnswer !== undefined &&
        hiddenAnswer.answer_hidden === true &&
        hiddenAnswer.predicted_label === null &&
        hiddenAnswer.probabilities === null,
      `the API withheld the answer (${JSON.stringify(hiddenAnswer)})`,
    ).toBe(true);
    await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
    await shot("02-case-blind-before");
    await accessible("case view, blind read");
  });

  test("the clinician's read reveals the answer in place, whether the read matched it, and the heatmap", async () => {
    const read = labels[0]!;
    await page.getByRole("button", { name: new RegExp(`^Read as ${read}`) }).click();

    const revealedLabel = page.getByTestId("predicted-label");
    await revealedLabel.waitFor();
    const ai = (await revealedLabel.innerText()).trim();
    const probabilities = await page.locator(".probabilities tbody tr").allInnerTexts();
    expect(
      probabilities.length === labels.length && probabilities.every((text) => /\d+\.\d%/.test(text)),
      `the probabilities are shown (${probabilities})`,
    ).toBe(true);
    const outcome = page.getByTestId("blind-outcome");
    await outcome.waitFor();
    const outcomeText = await outcome.innerText();
    const matched = (await outcome.getAttribute("data-matched")) === "true";
    expect(matched, `the outcome says whether the read matched (read ${read}, AI ${ai}: ${outcomeText})`).toBe(ai === read);
    expect(outcomeText, "the outcome names the read").toContain(read);
    log(`read ${read}; the AI answered ${ai}: ${outcomeText}`);
    expect(await page.locator(".case").getAttribute("data-case-id"), "reading stays on the case to show the answer").toBe(caseId);
    const history = await page.getByTestId("verdict-history").innerText();
    expect(history.includes(`read ${read}`) && history.includes("blind"), `the history shows the blind read (${history})`).toBe(true);
    expect((await page.getByTestId("label-of-record").innerText()).trim(), "the read is the label of record").toBe(read);
    await page.getByTestId("heatmap-toggle").click();
    await page.waitForSelector("[data-testid=viewer-canvas][data-heatmap=shown]", { timeout: 120_000 });
    expect(heatmapRequests.length, "the heatmap is requested once the answer is revealed").toBeGreaterThan(0);
    await page.waitForTimeout(300);
    await shot("03-case-blind-after");
    await accessible("case view, revealed");
  });

  test("the Trust screen counts the site's blind read, every case drawn, with a certification row per label", async () => {
    await page.goto(`${BASE_URL}/#/trust?task=${encodeURIComponent(TASK)}&site=${encodeURIComponent(SITE)}`);
    const current = page.getByTestId("current-level");
    await current.waitFor();
    const blindReads = await current.getByTestId("blind-reads").innerText();
    expect(blindReads.startsWith("1 read, 0 waiting"), `the site counts its blind read (${blindReads})`).toBe(true);
    expect(blindReads, "every case is drawn here").toContain("100% of cases drawn");
    const classRows = await current.locator("[data-testid=class-table] tbody tr").count();
    expect(classRows, "one certification row per label").toBe(labels.length);
    await page.waitForTimeout(300);
    await shot("04-trust-blind-site", true);
    await accessible("trust, blind-read site");
  });

  test("the browser console stays free of errors throughout", async () => {
    expect(consoleErrors, `no errors in the browser console: ${consoleErrors.join(" | ")}`).toEqual([]);
  });
});
