// The Trust screen over a stubbed API: per site (no task-wide level), the certification per label on
// blind reads (target, certified threshold, the bound at the deepest step, what is in force), the level's
// source, the drift test and out-of-distribution rate; the agreement chart and the reliability diagram
// (descriptive); the administrator's change with per-label thresholds through a dialog.
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
  putAnswer = () => json({ ...overview.sites[0], level: "semi_autonomous", class_thresholds: { normal: 0.97, pneumonia: null }, level_source: "site" });
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
  it("draws agreement over time with its interval band, one series per site, as description only", async () => {
    renderTrust();
    const chart = await screen.findByTestId("agreement-chart");
    const svg = chart.querySelector("svg")!;
    expect(svg.getAttribute("role")).toBe("img");
    const bands = svg.querySelectorAll("path.ci-band");
    expect(bands).toHaveLength(2);
    for (const band of bands) expect(band.getAttribute("d")).toMatch(/^M/);
    // Points with verdicts only (ward-b's second bucket has none): 3 + 1.
    expect(svg.querySelectorAll(".ci-point")).toHaveLength(4);
    // Agreement has no target any more: levels are certified per label on blind reads.
    expect(svg.textContent).not.toContain("target");
    expect(chart.textContent).toContain(`nih · ${TASK}.v1`);
    expect(svg.querySelector("title")!.textContent).toContain("ward-b");
  });

  it("shows one series when a site is chosen", async () => {
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const chart = await screen.findByTestId("agreement-chart");
    expect(chart.querySelectorAll("path.ci-band")).toHaveLength(1);
    expect(screen.getByTestId("current-level").getAttribute("data-site")).toBe("nih");
  });

  it("states each label's error target and the certification's error rate", async () => {
    renderTrust();
    const rules = await screen.findByTestId("certification-rules");
    expect(rules.textContent).toContain("normalerror ≤ 5%");
    expect(rules.textContent).toContain("pneumoniaerror ≤ 15%");
    expect(rules.textContent).toContain("at most 5.0% (2.50% per label)");
  });

  it("lists every site (no task-wide row) with level, blind reads, per-label certification, drift and recommendation", async () => {
    renderTrust();
    const table = await screen.findByTestId("site-table");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.getAttribute("data-site"))).toEqual(["nih", "ward-b", "ward-c"]);
    expect((screen.getByLabelText("Site") as HTMLSelectElement).querySelectorAll("option[value='*']")).toHaveLength(0);
    const nih = rows[0]!;
    expect(nih.textContent).toContain("Supervised");
    expect(nih.textContent).toContain("(default)");
    expect(nih.textContent).toContain("136 (4)");
    const labels = within(nih).getAllByRole("listitem").map((item) => item.textContent);
    expect(labels).toEqual(["normal ≥ 0.97 (4.9% < 5%, n=112)", "pneumonia not certified (41.0% vs 15%, n=6)"]);
    expect(nih.textContent).toContain("96.0%");
    expect(nih.textContent).toContain("1.2%");
    expect(nih.textContent).toContain("1.84 / 5.20");
    expect(nih.lastElementChild!.textContent).toBe("Semi-autonomous (normal ≥ 0.97; pneumonia never)");
    const ward = rows[1]!;
    expect(ward.textContent).toContain("(normal ≥ 0.98; pneumonia never)");
    expect(ward.textContent).toContain("6.31 / 5.20 drifted (output high)");
    expect(ward.textContent).toContain("8.2%");
    expect(ward.lastElementChild!.textContent).toBe("Supervised"); // drifted: back to supervision
    const wardC = rows[2]!;
    expect(wardC.textContent).toContain("(new version)");
    expect(wardC.lastElementChild!.textContent).toBe("keep");
  });

  it("shows a site's certification per label: target, certified threshold, the bound at the deepest step and what is in force", async () => {
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const current = await screen.findByTestId("current-level");
    expect(within(current).getByTestId("level-in-force").textContent).toBe("Supervised");
    expect(within(current).getByTestId("level-source").textContent).toBe("no level set for this site: supervised (the default)");
    expect(within(current).getByTestId("blind-reads").textContent).toContain("136 read, 4 waiting");
    expect(within(current).getByTestId("blind-reads").textContent).toContain("20% of cases drawn; 610 cases answered here");
    expect(within(current).getByTestId("drift").textContent).toContain("CUSUM 1.84 vs 5.20 — stable");
    expect(within(current).getByTestId("ood-rate").textContent).toBe("1.2% (6 of 500 images)");
    const table = within(current).getByTestId("class-table");
    const [normal, pneumonia] = within(table).getAllByRole("row").slice(1);
    expect(normal!.getAttribute("data-label")).toBe("normal");
    expect(within(normal!).getByTestId("certified").textContent).toBe("≥ 0.97");
    expect(within(normal!).getByTestId("certified-bound").textContent).toBe("upper 4.9% on 112 blind reads");
    expect(normal!.textContent).toContain("5.0%");
    expect(within(normal!).getByTestId("deepest-step").textContent).toBe("at ≥ 0.95: upper 5.8% ≥ 5.0% — not certified");
    expect(normal!.textContent).toContain("130 (3) / 610");
    expect(within(normal!).getByTestId("in-force").textContent).toBe("not final automatically");
    expect(within(pneumonia!).getByTestId("certified").textContent).toBe("not certified");
    expect(within(pneumonia!).getByTestId("deepest-step").textContent).toBe("at ≥ 0.995: upper 41.0% ≥ 15.0% — not certified");
    expect(pneumonia!.textContent).toContain("6 (0) / 28");
    // Every step of the sequence, one click away.
    const steps = current.querySelector("details.steps[data-label=normal]")!;
    expect(steps.querySelectorAll("tbody tr")).toHaveLength(5);
    expect(steps.querySelector("tbody tr[data-threshold='0.97']")!.textContent).toContain("certified");
    expect(steps.querySelector("tbody tr[data-threshold='0.95']")!.textContent).toContain("0.4%–5.8%");
  });

  it("shows the bound on the answers a level has finalised, and a drifted site's test", async () => {
    renderTrust(`/trust?task=${TASK}&site=ward-b`);
    const current = await screen.findByTestId("current-level");
    expect(within(current).getByTestId("level-in-force").textContent).toBe("Semi-autonomous (normal ≥ 0.98; pneumonia never)");
    expect(within(current).getByTestId("level-source").textContent).toBe("set for this site");
    const normal = within(current).getByTestId("class-table").querySelector("tr[data-label=normal]")!;
    expect(within(normal as HTMLElement).getByTestId("in-force").textContent).toBe("final at ≥ 0.98: upper 3.4% on 12 blind reads (0 errors)");
    expect(within(current).getByTestId("drift").textContent).toContain("CUSUM 6.31 > 5.20 — drifted on the output, upwards");
  });

  it("explains a level that no longer holds because the version changed", async () => {
    renderTrust(`/trust?task=${TASK}&site=ward-c`);
    const current = await screen.findByTestId("current-level");
    expect(within(current).getByTestId("level-source").textContent).toBe(
      "supervised: the level set here was earned by a version that no longer serves this site",
    );
    expect(within(current).getByTestId("drift").textContent).toContain("not measured");
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

  it("applies the recommendation's per-label thresholds for the site, after a dialog that states the certification", async () => {
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const current = await screen.findByTestId("current-level");
    fireEvent.click(await within(current).findByRole("button", { name: "Apply recommendation…" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("Autonomy for site nih");
    expect(dialog.textContent).toContain("normal: certified at ≥ 0.97 (error bound 4.9% < target 5.0%, 112 blind reads); not at ≥ 0.95 (5.8%)");
    expect(dialog.textContent).toContain("pneumonia: not certified (error bound 41.0% at ≥ 0.995 vs target 15.0%, 6 blind reads)");
    expect((within(dialog).getByLabelText("Level") as HTMLSelectElement).value).toBe("semi_autonomous");
    const normal = within(dialog).getByLabelText(/^normal/) as HTMLInputElement;
    const pneumonia = within(dialog).getByLabelText(/^pneumonia/) as HTMLInputElement;
    expect(normal.value).toBe("0.97");
    expect(normal.min).toBe("0.97");
    expect(pneumonia.value).toBe("");
    expect(pneumonia.disabled).toBe(true); // not certified: never final
    const confirm = within(dialog).getByRole("button", { name: "Set semi-autonomous" });
    expect((confirm as HTMLButtonElement).disabled).toBe(true); // a reason is required
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "reviewed at the quality board" } });
    fireEvent.click(confirm);
    await waitFor(() =>
      expect(puts).toEqual([
        {
          path: `/api/v1/tasks/${TASK}/autonomy`,
          body: { site: "nih", level: "semi_autonomous", class_thresholds: { normal: 0.97, pneumonia: null }, reason: "reviewed at the quality board" },
          csrf: "csrf-test-token",
        },
      ]),
    );
    await waitFor(() => expect(screen.queryByRole("dialog")).toBeNull());
  });

  it("sends a stricter threshold and a new blind-read fraction when the administrator sets them", async () => {
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const current = await screen.findByTestId("current-level");
    fireEvent.click(await within(current).findByRole("button", { name: "Apply recommendation…" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText(/^normal/), { target: { value: "0.99" } });
    fireEvent.change(within(dialog).getByLabelText(/Blind-read fraction/), { target: { value: "0.3" } });
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "stricter for a start" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Set semi-autonomous" }));
    await waitFor(() =>
      expect(puts[0]!.body).toEqual({
        site: "nih",
        level: "semi_autonomous",
        class_thresholds: { normal: 0.99, pneumonia: null },
        blind_read_fraction: 0.3,
        reason: "stricter for a start",
      }),
    );
  });

  it("shows the API's refusal when the level is not earned", async () => {
    putAnswer = () => apiError(409, "autonomy_not_earned", "The evidence does not support autonomous here: not certified.");
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const current = await screen.findByTestId("current-level");
    fireEvent.click(await within(current).findByRole("button", { name: "Change level…" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.change(within(dialog).getByLabelText("Level"), { target: { value: "autonomous" } });
    expect(within(dialog).queryByLabelText(/^normal/)).toBeNull();
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "try it" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Set autonomous" }));
    const refusal = await within(dialog).findByRole("alert");
    expect(refusal.textContent).toContain("does not support autonomous");
    expect(refusal.textContent).toContain("autonomy_not_earned");
    expect(puts[0]!.body).toEqual({ site: "nih", level: "autonomous", reason: "try it" });
  });

  it("lets a clinician view the evidence but not change it", async () => {
    roles = ["clinician"];
    renderTrust(`/trust?task=${TASK}&site=nih`);
    const current = await screen.findByTestId("current-level");
    await within(current).findByText(/Administrators apply changes/);
    expect(within(current).queryByRole("button")).toBeNull();
  });
});
