// The types of harness.mjs, for the TypeScript specs (e2e/*.spec.ts).
import type { Server } from "node:http";
import type { Browser, Page } from "playwright-core";

export interface Violation {
  impact: "minor" | "moderate" | "serious" | "critical" | null;
  text: string;
}

export function launchChromium(): Promise<Browser>;
export function env(name: string, fallback?: string): string;
export function axeViolations(page: Page): Promise<Violation[]>;
export function blocking(violations: Violation[]): string[];
export function serveDist(dist: string): Promise<{ server: Server; base: string }>;
