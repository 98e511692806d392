// The browser tests (e2e/*.spec.ts) under Playwright Test, driving Debian's Chromium: nothing is downloaded.
// tests/e2e/test_browser_loop.py starts the app, seeds it and runs one spec at a time against it
// (the loop and the blind read need servers with different blind-read fractions), passing the server's
// address, the users and the images in the environment; see each spec's header.
import { defineConfig } from "@playwright/test";

import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./e2e/harness.mjs";

export default defineConfig({
  testDir: "e2e",
  testMatch: "*.spec.ts",
  // Traces and failure screenshots; the pytest test gives each server's run a folder of its own (--output).
  outputDir: "e2e/artifacts/test-results",
  reporter: "list",
  // One browser, one page per spec, its scenarios in order: each picks up where the previous one left off.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: true,
  // The server runs a real model on a small CPU: uploads, heatmaps and the training job take their time.
  timeout: 5 * 60_000,
  expect: { timeout: 30_000 },
  use: {
    headless: true,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    actionTimeout: 30_000,
    navigationTimeout: 60_000,
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  },
});
