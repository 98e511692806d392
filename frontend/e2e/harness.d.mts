// The types of harness.mjs, for the TypeScript specs (e2e/*.spec.ts).
import type { Server } from "node:http";
import type { Browser, BrowserContext, Page } from "playwright-core";

export interface Violation {
  impact: "minor" | "moderate" | "serious" | "critical" | null;
  text: string;
}

export const CHROMIUM_PATH: string;
export const CHROMIUM_ARGS: string[];
export function launchChromium(): Promise<Browser>;
export function openPage(
  browser: Browser,
  artifacts: string,
  timeout: number,
  consoleErrors: string[],
): Promise<{ context: BrowserContext; page: Page }>;
export function env(name: string, fallback?: string): string;
export function axeViolations(page: Page): Promise<Violation[]>;
export function blocking(violations: Violation[]): string[];
export function serveDist(dist: string): Promise<{ server: Server; base: string }>;
