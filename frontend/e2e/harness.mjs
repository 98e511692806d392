// What every browser script needs: its settings from the environment, the accessibility check (axe-core,
// WCAG 2.1 A/AA), and, for the fixture-driven screenshot scripts, the built app served from disk.
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { extname, join } from "node:path";
import { chromium } from "playwright-core";

/** Debian's Chromium and the flags this environment needs (no sandbox, no network chatter). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Debian's Chromium, headless, for the plain-node screenshot scripts (the specs get it from playwright.config.ts). */
export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** A fresh 1440 x 900 page for a spec, its artifacts folder emptied of old screenshots, and its console
 * errors collected (a 4xx answer is logged by Chromium as a failed resource; the app shows those itself). */
export async function openPage(browser, artifacts, timeout, consoleErrors) {
  mkdirSync(artifacts, { recursive: true });
  for (const old of readdirSync(artifacts)) if (old.endsWith(".png")) rmSync(join(artifacts, old));
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(timeout);
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  return { context, page };
}

export const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`missing environment variable ${name}`);
    process.exit(2);
  }
  return value;
};

// Evaluated through the DevTools protocol: the app's Content-Security-Policy (script-src 'self') rightly
// refuses an injected <script>.
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** The page's WCAG A/AA violations, each with its impact and a line naming up to three elements. */
export async function axeViolations(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } });
    return result.violations.map((v) => ({
      impact: v.impact,
      text: `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`,
    }));
  });
}

/** The violations that fail a run: serious and critical ones. */
export const blocking = (violations) => violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.text);

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };

/** Serves frontend/dist on a free loopback port (the screenshot scripts answer the API with page.route). */
export async function serveDist(dist) {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const file = join(dist, path === "/" ? "index.html" : path);
    if (!file.startsWith(dist) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(response);
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

/** `GET /api/v1/auth/me` for a signed-in person with these fields (username, display_name, roles...). */
export const sessionOf = (user) => ({
  credential: "session",
  csrf_token: "csrf",
  expires_at: null,
  permissions: [],
  user: { kind: "person", is_active: true, created_at: "2026-11-01T00:00:00Z", last_login_at: null, ...user },
});

/** A 1440 x 900 page whose API calls are answered by `answer(pathname)` (404 `not_found` when it returns
 * undefined), with the browser's errors collected; `onRequest(url)` sees each API request. */
export async function fixturePage(browser, answer, onRequest = () => {}) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
  await page.route("**/api/**", async (route) => {
    const url = new URL(route.request().url());
    onRequest(url);
    const body = answer(url.pathname);
    if (body === undefined) {
      await route.fulfill({ status: 404, json: { error: { code: "not_found", message: "no fixture", details: {}, request_id: null } } });
    } else {
      await route.fulfill({ json: body });
    }
  });
  return { page, errors };
}

/** Logs the page's axe findings and throws on serious or critical ones. */
export async function requireAccessible(page, what) {
  const found = await axeViolations(page);
  console.log(`axe ${what}: ${found.length ? found.map((v) => v.text).join("; ") : "no violations"}`);
  if (blocking(found).length) throw new Error(`accessibility of ${what}: ${blocking(found).join("; ")}`);
}
