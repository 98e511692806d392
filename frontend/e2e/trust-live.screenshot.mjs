// The Trust screen of a running service (not fixtures), in headless Chromium: signs in, opens the task's
// Trust screen on one site and saves a full-page screenshot. bench/trust_replay.py calls it at the end of
// its first order for docs/screenshots/trust-replay.png.
//
//   BASE_URL=http://127.0.0.1:8000 E2E_USERNAME=admin E2E_PASSWORD=... TASK=chest-xray-pneumonia \
//     SITE=guangzhou node e2e/trust-live.screenshot.mjs OUT.png
import { env, launchChromium } from "./harness.mjs";

const BASE_URL = env("BASE_URL");
const TASK = env("TASK");
const SITE = env("SITE");
const out = process.argv[2] ?? "trust-live.png";

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${BASE_URL}/#/worklist`);
  await page.getByLabel("Username").fill(env("E2E_USERNAME"));
  await page.getByLabel("Password").fill(env("E2E_PASSWORD"));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("current-user").waitFor();
  await page.goto(`${BASE_URL}/#/trust?task=${encodeURIComponent(TASK)}&site=${encodeURIComponent(SITE)}`);
  await page.getByRole("heading", { name: "Trust", level: 1 }).waitFor();
  await page.locator(`[data-testid=site-table] tbody tr[data-site="${SITE}"]`).waitFor();
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: out, fullPage: true });
  console.log(`screenshot ${out}`);
} finally {
  await browser.close();
}
