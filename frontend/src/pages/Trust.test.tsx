// The Trust screen over a stubbed API: the agreement chart with its interval band, the per-site table,
// the reliability diagram, and the administrator's change through a dialog that states the evidence.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { AuthProvider } from "../auth/AuthContext";
import { apiError, calibration, json, metrics, overview, session, TASK } from "../test/fixtures";
import { Trust } from "./Trust";

let puts: { path: string; body: unknown; csrf: string | null }[];
let roles: ("clinician" | "admin")[];
let putAnswer: () => Response;
let calibrationAnswer: () => Response;

beforeAll(() => {
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.setAttribute("open", "");
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.removeAttribute("open");
  };
});

beforeEach(() => {
  puts = [];
  roles = ["admin"];
  putAnswer = () => json({ ...overview.sites[1], level: "semi_autonomous", confidence_threshold: 0.97 });
  calibrationAnswer = () => json(calibration);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      const path = url.pathname;
      if (request.method === "PUT") {
        puts.push({ path, body: await request.clone().json(), csrf: request.headers.get("X-CSRF-Token") });
        return putAnswer();
      }
      if (path === "/api/v1/auth/me") return json(session(roles));
      if (path === "/api/v1/tasks")
        return json([{ name: TASK, title: "Chest X-ray: pneumonia", description: "", modality: "CR", accepted_modalities: ["CR"], labels: ["normal", "pneumonia"], active_version: `${TASK}.v1` }]);
      if (path === `/api/v1/tasks/${TASK}/autonomy`) return json(overview);
      if (path === `/api/v1/tasks/${TASK}/metrics`) {
        expect(url.searchParams.get("bucket")).toBe("cases");
        return json(metrics);
      }
      if (path === `/api/v1/tasks/${TASK}/calibration`) return calibrationAnswer();
      return apiError(404, "not_found", `no stub for ${path}`);
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderTrust(entry = `/trust?task=${TASK}`) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const router = createMemoryRouter([{ path: "/trust", element: <Trust /> }], { initialEntries: [entry] });
  render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <RouterProvider router={router} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

describe("Trust", () => {
  it("draws agreement over time with its interval band, one series per site", async () => {
    renderTrust();
    const chart = await screen.findByTestId("agreement-chart");
    const svg = chart.querySelector("svg")!;
    expect(svg.getAttribute("role")).toBe("img");
    const bands = svg.querySelectorAll("path.ci-band");
    expect(bands).toHaveLength(2);
    for (const band of bands) expect(band.getAttribute("d")).toMatch(/^M/);
    // Points with verdicts only (ward-b's second bucket has none): 3 + 1.
    expect(svg.querySelectorAll(".ci-point")).toHaveLength(4);
    expect(svg.textContent).toContain("target 95%");
    expect(chart.textContent).toContain(`nih · ${TASK}.v1`);
    expect(svg.querySelector("title")!.textContent).toContain("ward-b");
  });

  it("shows one series when a site is chosen", async () => {
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const chart = await screen.findByTestId("agreement-chart");
    expect(chart.querySelectorAll("path.ci-band")).toHaveLength(1);
    expect(screen.getByTestId("current-level").textContent).toContain("nih");
  });

  it("lists every site with level, verdicts, agreement with its interval, drift and recommendation", async () => {
    renderTrust();
    const table = await screen.findByTestId("site-table");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.getAttribute("data-site"))).toEqual(["*", "nih", "ward-b"]);
    const nih = rows[1]!;
    expect(nih.textContent).toContain("Supervised");
    expect(nih.textContent).toContain("250");
    expect(nih.textContent).toContain("96.0%");
    expect(nih.textContent).toContain("93%–98%");
    expect(nih.textContent).toContain("0.031");
    expect(nih.textContent).toContain("0.040 / 0.25");
    expect(nih.textContent).toContain("Semi-autonomous (confidence ≥ 0.97)");
    const ward = rows[2]!;
    expect(ward.textContent).toContain("≥ 0.98");
    expect(ward.textContent).toContain("drifted");
    expect(ward.lastElementChild!.textContent).toBe("Supervised"); // drifted: back to supervision
    expect(rows[0]!.lastElementChild!.textContent).toBe("keep");
  });

  it("draws the reliability diagram from the calibration bins", async () => {
    renderTrust();
    const diagram = await screen.findByTestId("reliability-diagram");
    expect(diagram.querySelectorAll(".reliability-bin")).toHaveLength(5);
  });

  it("says so when the server has no calibration endpoint", async () => {
    calibrationAnswer = () => apiError(404, "not_found", "Not Found");
    renderTrust();
    await screen.findByText(/does not give per-bin calibration/);
    expect(screen.queryByTestId("reliability-diagram")).toBeNull();
  });

  it("applies the recommendation after a dialog that states the evidence and asks for a reason", async () => {
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const current = await screen.findByTestId("current-level");
    fireEvent.click(await within(current).findByRole("button", { name: "Apply recommendation…" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("Autonomy for nih");
    expect(dialog.textContent).toContain("250 verdicts");
    expect(dialog.textContent).toContain("96.0% (95% CI 92.8%–97.8%, 240/250)");
    expect(dialog.textContent).toContain("target 95%");
    expect((within(dialog).getByLabelText("Level") as HTMLSelectElement).value).toBe("semi_autonomous");
    expect((within(dialog).getByLabelText(/Confidence threshold/) as HTMLInputElement).value).toBe("0.97");
    const confirm = within(dialog).getByRole("button", { name: "Set semi-autonomous" });
    expect((confirm as HTMLButtonElement).disabled).toBe(true); // a reason is required
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "reviewed at the quality board" } });
    fireEvent.click(confirm);
    await waitFor(() =>
      expect(puts).toEqual([
        {
          path: `/api/v1/tasks/${TASK}/autonomy`,
          body: { site: "nih", level: "semi_autonomous", confidence_threshold: 0.97, reason: "reviewed at the quality board" },
          csrf: "csrf-test-token",
        },
      ]),
    );
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
  });

  it("shows the API's refusal when the level is not earned", async () => {
    putAnswer = () => apiError(409, "autonomy_not_earned", "The evidence does not support autonomous here: too few verdicts.");
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const current = await screen.findByTestId("current-level");
    fireEvent.click(await within(current).findByRole("button", { name: "Change level…" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Level"), { target: { value: "autonomous" } });
    expect(within(dialog).queryByLabelText(/Confidence threshold/)).toBeNull();
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "try it" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Set autonomous" }));
    const refusal = await within(dialog).findByRole("alert");
    expect(refusal.textContent).toContain("does not support autonomous");
    expect(refusal.textContent).toContain("autonomy_not_earned");
    expect(puts[0]!.body).toEqual({ site: "nih", level: "autonomous", confidence_threshold: null, reason: "try it" });
  });

  it("lets a clinician view the evidence but not change it", async () => {
    roles = ["clinician"];
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const current = await screen.findByTestId("current-level");
    await within(current).findByText(/Administrators apply changes/);
    expect(within(current).queryByRole("button")).toBeNull();
  });
});
