// The Models screen against a stubbed API: versions with lineage, metrics and the sites they serve, what
// serves each site at which threshold, held-back and promoted jobs with the gate's comparisons, and
// promotion / rollback / training, for the default or one site, through confirmation dialogs that state
// the scope and the metrics.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { ModelVersion, TrainingJob } from "../api/client";
import { servingTask } from "../test/fixtures";
import { Models } from "./Models";

const TASK = "chest-xray-pneumonia";
const metrics = (auc: number, n: number) => ({ auc, accuracy: 0.8, sensitivity: 0.9, specificity: 0.7, n });
const v1: ModelVersion = {
  id: `${TASK}.v1`,
  task: TASK,
  status: "retired",
  parent: null,
  weights_sha256: "a".repeat(64),
  created_at: "2026-11-01T00:00:00Z",
  activated_at: "2026-11-01T00:00:00Z",
  metrics: { "source-test": metrics(0.956, 624) },
  is_default: false,
  serving_sites: [],
};
// v1 adapted to site ward-b by the gate: serves ward-b only (a version promoted for a site stays a candidate).
const wardB: ModelVersion = {
  ...v1,
  id: `${TASK}.v1-ward-b`,
  status: "candidate",
  parent: v1.id,
  created_at: "2026-11-12T00:00:00Z",
  activated_at: null,
  metrics: { "sequestered: site ward-b": metrics(0.88, 45) },
  serving_sites: ["ward-b"],
};
const v2: ModelVersion = {
  ...v1,
  id: `${TASK}.v2`,
  status: "active",
  parent: v1.id,
  activated_at: "2026-11-20T00:00:00Z",
  metrics: { "source-test": metrics(0.951, 624), sequestered: metrics(0.81, 40) },
  is_default: true,
};
const v3: ModelVersion = { ...v1, id: `${TASK}.v3`, status: "candidate", parent: v2.id, activated_at: null, metrics: { sequestered: metrics(0.79, 40) } };
const versions = [v1, wardB, v2, v3];

/** One paired comparison of the gate (the shape of `ml/comparison.py`). */
const comparison = (cases: string, active_auc: number, candidate_auc: number, overrides: Record<string, unknown> = {}) => ({
  cases,
  n: 40,
  patients: 36,
  counts_per_label: { normal: 22, pneumonia: 18 },
  active_auc,
  candidate_auc,
  auc_difference: Math.round((candidate_auc - active_auc) * 10_000) / 10_000,
  difference_ci95: [-0.071, 0.032],
  probability_better: 0.22,
  active_threshold: 0.42,
  candidate_threshold: 0.42,
  active_sensitivity: 0.89,
  candidate_sensitivity: 0.83,
  active_specificity: 0.7,
  candidate_specificity: 0.72,
  ...overrides,
});
const policy = { noninferiority_margin: 0.02, superiority_confidence: 0.95, sensitivity_margin: 0.05, min_sequestered: 20 };

const heldBack: TrainingJob = {
  id: "0b8f1f7e-3c39-4d53-9a55-0f5b9d3e2c11",
  task: TASK,
  status: "succeeded",
  trigger: "manual",
  requested_by: "admin",
  parameters: {},
  progress: { stage: "done", seconds: 120 },
  training_set: { counts: { nih: { normal: 30, pneumonia: 25 } } },
  candidate_version: v3.id,
  decision: "held_back",
  decision_reason: "held back: not better on the sequestered cases (AUC 0.790 vs active 0.810, n=40)",
  evaluation: {
    promote_for_site: false,
    promote_as_default: false,
    reason: "held back: not better on the sequestered cases (AUC 0.790 vs active 0.810, n=40)",
    site: null,
    target: comparison("sequestered: every site", 0.81, 0.79),
    others: [],
    policy,
    looks: 1,
  },
  error: null,
  cancel_requested: false,
  created_at: "2026-11-21T00:00:00Z",
  started_at: "2026-11-21T00:00:01Z",
  finished_at: "2026-11-21T00:02:01Z",
  site: null,
};
// The gate promoted a candidate for ward-b, but not as the default (it may be worse at nih).
const promotedForSite: TrainingJob = {
  ...heldBack,
  id: "0b8f1f7e-3c39-4d53-9a55-0f5b9d3e2c12",
  site: "ward-b",
  training_set: { counts: { "ward-b": { normal: 60, pneumonia: 41 } } },
  candidate_version: wardB.id,
  decision: "promoted",
  decision_reason: "promoted for site ward-b: AUC 0.880 vs 0.838 at site ward-b; not the default: may be worse on sequestered: site nih",
  evaluation: {
    promote_for_site: true,
    promote_as_default: false,
    reason: "promoted for site ward-b",
    site: "ward-b",
    target: comparison("sequestered: site ward-b", 0.838, 0.88, {
      n: 45,
      patients: 41,
      difference_ci95: [0.011, 0.07],
      probability_better: 0.981,
      active_threshold: 0.42,
      candidate_threshold: 0.31,
      active_sensitivity: 0.85,
      candidate_sensitivity: 0.9,
    }),
    others: [
      comparison("sequestered: site nih", 0.81, 0.78, { difference_ci95: [-0.061, 0.004], probability_better: 0.07 }),
      comparison("source gate half", 0.951, 0.949, {
        n: 312,
        patients: 290,
        difference_ci95: [-0.012, 0.008],
        probability_better: 0.41,
        active_sensitivity: null,
        candidate_sensitivity: null,
      }),
    ],
    policy,
    looks: 3,
  },
  created_at: "2026-11-11T00:00:00Z",
  started_at: "2026-11-11T00:00:01Z",
  finished_at: "2026-11-11T00:02:01Z",
};

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

let posts: { path: string; body: unknown }[];

beforeAll(() => {
  // jsdom has no <dialog> methods.
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.setAttribute("open", "");
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.removeAttribute("open");
  };
});

beforeEach(() => {
  posts = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const path = new URL(request.url).pathname;
      if (request.method === "POST") {
        const body = await request.clone().json();
        posts.push({ path, body });
        return json(path.endsWith("/rollback") ? { ...v1, status: "active" } : { ...v3, status: "active" });
      }
      if (path === "/api/v1/tasks") return json([servingTask(v2.id, wardB.id)]);
      if (path === `/api/v1/tasks/${TASK}/models`) return json(versions);
      if (path === "/api/v1/training-jobs") return json([heldBack, promotedForSite]);
      if (path.startsWith("/api/v1/models/")) {
        const id = decodeURIComponent(path.split("/").pop()!);
        const version = versions.find((v) => v.id === id)!;
        const operating_points = servingTask(v2.id, wardB.id)
          .sites.filter((site) => site.version === id && site.operating_point.source === "site")
          .map((site) => ({ site: site.site, ...site.operating_point }));
        return json({ ...version, lineage: version.parent ? [version.parent] : [], children: [], card: { training_data: { sites: ["nih"] } }, operating_points });
      }
      return json({ error: { code: "not_found", message: `no stub for ${path}`, details: {}, request_id: null } }, 404);
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderModels() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const router = createMemoryRouter([{ path: "/models", element: <Models /> }], { initialEntries: ["/models"] });
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
}

describe("Models", () => {
  it("lists the versions with status, parent and AUC per evaluation set", async () => {
    renderModels();
    const table = await screen.findByTestId("model-versions");
    const rows = within(table).getAllByRole("row");
    expect(rows[1]!.textContent).toContain(v3.id);
    expect(rows[1]!.textContent).toContain("candidate");
    expect(rows[2]!.textContent).toContain("active");
    expect(rows[2]!.textContent).toContain(v1.id);
    expect(table.textContent).toContain("0.951");
  });

  it("shows why a candidate was held back, with the gate's AUCs", async () => {
    renderModels();
    const jobs = await screen.findByTestId("training-jobs");
    await within(jobs).findByText(/not better on the sequestered cases/);
    expect(jobs.textContent).toContain("held back");
    expect(jobs.textContent).toContain("0.810");
    expect(jobs.textContent).toContain("0.790");
    expect(jobs.textContent).toContain("nih: 30 normal, 25 pneumonia");
  });

  it("promotes after a confirmation that states the metrics, sending only the reason", async () => {
    renderModels();
    const table = await screen.findByTestId("model-versions");
    const candidateRow = within(table).getAllByRole("row")[1]!;
    fireEvent.click(within(candidateRow).getByRole("button", { name: "Promote…" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain(`Promote ${v3.id}?`);
    expect(dialog.textContent).toContain("0.790"); // the candidate's sequestered AUC
    expect(dialog.textContent).toContain("0.810"); // the active version's
    const confirm = within(dialog).getByRole("button", { name: "Promote" });
    expect((confirm as HTMLButtonElement).disabled).toBe(true); // a reason is required
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "accepted by the board" } });
    fireEvent.click(confirm);
    await waitFor(() => expect(posts).toEqual([{ path: `/api/v1/models/${v3.id}/promote`, body: { reason: "accepted by the board" } }]));
    await screen.findByText(`${v3.id} is now the active version.`);
  });

  it("rolls back to the version the active one replaced", async () => {
    renderModels();
    await screen.findByTestId("model-versions");
    fireEvent.click(screen.getByRole("button", { name: "Roll back…" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain(v2.id);
    expect(dialog.textContent).toContain(v1.id);
    expect(dialog.textContent).toContain("0.956");
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "site review" } });
    fireEvent.click(within(dialog).getByRole("button", { name: "Roll back" }));
    await waitFor(() => expect(posts).toEqual([{ path: `/api/v1/tasks/${TASK}/rollback`, body: { reason: "site review" } }]));
  });

  it("shows what serves each site: the default, then each site with its routing and threshold in force", async () => {
    renderModels();
    const table = await screen.findByTestId("site-serving");
    const rows = within(table).getAllByRole("row");
    expect(rows.map((row) => row.dataset.site)).toEqual([undefined, "", "nih", "ward-b"]);
    const [, fallback, nih, ward] = rows as [HTMLElement, HTMLElement, HTMLElement, HTMLElement];
    expect(fallback.textContent).toContain("Default");
    expect(fallback.textContent).toContain(v2.id);
    expect(fallback.textContent).toContain("0.42 (version)");
    // nih has no version of its own: the default serves it, at the default's own threshold.
    expect(nih.textContent).toContain(v2.id);
    expect(within(nih).getByText("task default").dataset.routing).toBe("default");
    expect(nih.textContent).toContain("0.42 (version)");
    expect(nih.textContent).toContain("the version's validation data");
    expect(within(nih).queryByRole("button")).toBeNull(); // nothing of its own to roll back
    // ward-b is served by its own version, at a threshold chosen on its cases, with the evidence.
    expect(ward.textContent).toContain(wardB.id);
    expect(within(ward).getByText("site's own version").dataset.routing).toBe("site");
    expect(within(ward).getByText("0.31 (site)").dataset.source).toBe("site");
    expect(ward.textContent).toContain("92.0% (95% CI 80.0%–97.0%)");
    expect(ward.textContent).toContain("71.0%");
    expect(ward.textContent).toContain("25 positive / 40 negative");
    expect(ward.textContent).toContain("adapted to the ward's portable unit");
    within(ward).getByRole("button", { name: "Roll back site…" });
    expect(table.parentElement!.parentElement!.textContent).toContain("sensitivity of 90%");
  });

  it("marks the default and the sites each version serves", async () => {
    renderModels();
    const table = await screen.findByTestId("model-versions");
    const rows = within(table).getAllByRole("row");
    expect(rows.map((row) => row.querySelector("td.mono")?.textContent)).toEqual([undefined, v3.id, v2.id, wardB.id, v1.id]);
    expect(within(rows[2]!).getByTestId("serves").textContent).toBe("default");
    expect(within(rows[3]!).getByTestId("serves").textContent).toBe("ward-b");
    expect(within(rows[1]!).queryByTestId("serves")).toBeNull();
  });

  it("promotes for one site, stating the scope, and sends {reason, site}", async () => {
    renderModels();
    const table = await screen.findByTestId("model-versions");
    fireEvent.click(within(within(table).getAllByRole("row")[1]!).getByRole("button", { name: "Promote…" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByTestId("change-scope").textContent).toBe("Scope: the task's default.");
    const scope = within(dialog).getByLabelText("Promote for") as HTMLSelectElement;
    // The known sites, each with what serves it now; a site the version serves already is not offered.
    expect(Array.from(scope.options).map((option) => option.textContent)).toEqual([
      "The task's default (every site without its own version)",
      `Site nih (now ${v2.id}, the default)`,
      `Site ward-b (now ${wardB.id})`,
      "A new site…",
    ]);
    fireEvent.change(scope, { target: { value: "site:nih" } });
    expect(within(dialog).getByTestId("change-scope").textContent).toBe("Scope: site nih only; the default and the other sites are unchanged.");
    expect(dialog.textContent).toContain(`in place of ${v2.id}`);
    expect(dialog.textContent).toContain("0.42 (version)"); // the threshold in force there now
    expect(dialog.textContent).toContain("0.790");
    expect(dialog.textContent).toContain("0.810");
    const confirm = within(dialog).getByRole("button", { name: "Promote" }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true); // a reason is required
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "better on nih's cases" } });
    fireEvent.click(confirm);
    await waitFor(() =>
      expect(posts).toEqual([{ path: `/api/v1/models/${v3.id}/promote`, body: { reason: "better on nih's cases", site: "nih" } }]),
    );
    await screen.findByText(`${v3.id} now serves site nih.`);
  });

  it("promotes for a new site named by hand", async () => {
    renderModels();
    const detail = await screen.findByTestId("version-detail"); // the default, v2, is selected
    fireEvent.click(await within(detail).findByRole("button", { name: "Promote…" }));
    const dialog = await screen.findByRole("dialog");
    const scope = within(dialog).getByLabelText("Promote for") as HTMLSelectElement;
    // v2 is the default already: it can only be promoted for a site, and nih (which it serves) comes first.
    expect(scope.options[0]!.disabled).toBe(true);
    expect(scope.value).toBe("site:nih");
    fireEvent.change(scope, { target: { value: "new-site" } });
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "pilot at the new ward" } });
    const confirm = within(dialog).getByRole("button", { name: "Promote" }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true); // the site is not named yet
    fireEvent.change(within(dialog).getByLabelText("New site's name"), { target: { value: " ward-c " } });
    expect(within(dialog).getByTestId("change-scope").textContent).toContain("site ward-c only");
    fireEvent.click(confirm);
    await waitFor(() =>
      expect(posts).toEqual([{ path: `/api/v1/models/${v2.id}/promote`, body: { reason: "pilot at the new ward", site: "ward-c" } }]),
    );
  });

  it("rolls back one site, stating the scope, and sends {reason, site}", async () => {
    renderModels();
    const table = await screen.findByTestId("site-serving");
    const ward = within(table).getAllByRole("row").find((row) => row.dataset.site === "ward-b")!;
    fireEvent.click(within(ward).getByRole("button", { name: "Roll back site…" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain("Roll back site ward-b?");
    expect(within(dialog).getByTestId("change-scope").textContent).toBe("Scope: site ward-b only; the default and the other sites are unchanged.");
    // ward-b's version was trained from v1 (not the default): v1 serves ward-b again.
    expect(dialog.textContent).toContain(`${wardB.id}, the site's own version`);
    expect(dialog.textContent).toContain(`The version it was trained from, ${v1.id}, answers there again`);
    expect(dialog.textContent).toContain("0.880"); // ward-b's version on its sequestered cases
    expect(dialog.textContent).toContain("0.956"); // v1 on the source test set
    const confirm = within(dialog).getByRole("button", { name: "Roll back site" }) as HTMLButtonElement;
    expect(confirm.disabled).toBe(true);
    fireEvent.change(within(dialog).getByLabelText(/Reason/), { target: { value: "ward-b's new detector" } });
    fireEvent.click(confirm);
    await waitFor(() =>
      expect(posts).toEqual([{ path: `/api/v1/tasks/${TASK}/rollback`, body: { reason: "ward-b's new detector", site: "ward-b" } }]),
    );
    await screen.findByText(`Site ward-b rolled back: ${v1.id} serves it now.`);
  });

  it("shows the gate's comparisons of a job promoted for one site, and its looks", async () => {
    renderModels();
    const jobs = await screen.findByTestId("training-jobs");
    const job = (await within(jobs).findByText(/promoted for site ward-b: AUC/)).closest("li")!;
    expect(job.textContent).toContain("site ward-b ·");
    expect(within(job).getByText("promoted for site ward-b")).toBeTruthy();
    const gate = within(job).getByTestId("gate-comparisons");
    const rows = within(gate).getAllByRole("row").map((row) => Array.from((row as HTMLTableRowElement).cells).map((cell) => cell.textContent));
    expect(rows).toEqual([
      ["Set", "n", "Active AUC", "Candidate AUC", "Difference (95% CI)", "P(better)", "Sensitivity active → candidate"],
      ["sequestered: site ward-btarget", "45 (41 patients)", "0.838", "0.880", "+0.042 (+0.011 to +0.070)", "98%", "85.0% → 90.0% (at 0.42 → 0.31)"],
      ["sequestered: site nih", "40 (36 patients)", "0.810", "0.780", "−0.030 (−0.061 to +0.004)", "7%", "89.0% → 83.0% (at 0.42 → 0.42)"],
      ["source gate half", "312 (290 patients)", "0.951", "0.949", "−0.002 (−0.012 to +0.008)", "41%", "–"],
    ]);
    expect(within(job).getByTestId("gate-looks").textContent).toContain("Looks: 3 comparisons on site ward-b's sequestered cases so far, this one included.");
    expect(within(job).getByTestId("gate-looks").textContent).toContain("better in at least 95% of resamples");
    // The held-back job (every site) has its own table, with its one comparison.
    const held = (await within(jobs).findByText(/not better on the sequestered cases/)).closest("li")!;
    expect(held.textContent).toContain("every site ·");
    expect(within(within(held).getByTestId("gate-comparisons")).getAllByRole("row")).toHaveLength(2);
    expect(within(held).getByTestId("gate-looks").textContent).toContain("Looks: 1 comparison on the sequestered cases");
  });

  it("starts training for one site, or for every site", async () => {
    renderModels();
    await screen.findByTestId("model-versions");
    fireEvent.click(screen.getByRole("button", { name: "Start training…" }));
    let dialog = await screen.findByRole("dialog");
    const site = within(dialog).getByLabelText("Adapt for") as HTMLSelectElement;
    expect(Array.from(site.options).map((option) => option.textContent)).toEqual(["Every site (the task's default)", "Site nih", "Site ward-b"]);
    fireEvent.change(site, { target: { value: "ward-b" } });
    expect(dialog.textContent).toContain(`fine-tunes ${wardB.id} (serving ward-b now)`);
    expect(dialog.textContent).toContain("0.880");
    fireEvent.click(within(dialog).getByRole("button", { name: "Start training" }));
    await waitFor(() => expect(posts).toEqual([{ path: "/api/v1/training-jobs", body: { task: TASK, site: "ward-b" } }]));
    await screen.findByText("Training job queued for site ward-b; a worker picks it up.");

    posts = [];
    fireEvent.click(screen.getByRole("button", { name: "Start training…" }));
    dialog = await screen.findByRole("dialog");
    expect(dialog.textContent).toContain(`fine-tunes ${v2.id} on the verified cases of every site`);
    fireEvent.click(within(dialog).getByRole("button", { name: "Start training" }));
    await waitFor(() => expect(posts).toEqual([{ path: "/api/v1/training-jobs", body: { task: TASK } }]));
  });

  it("shows the sites a version serves and its threshold per site in its detail", async () => {
    renderModels();
    const table = await screen.findByTestId("model-versions");
    fireEvent.click(within(table).getByRole("button", { name: `Details of ${wardB.id}` }));
    const detail = await screen.findByTestId("version-detail");
    const points = await within(detail).findByTestId("operating-points");
    expect(within(detail).getByTestId("serves").textContent).toBe("ward-b");
    const row = within(points).getAllByRole("row")[1]!;
    expect(row.textContent).toContain("ward-b");
    expect(row.textContent).toContain("0.31 (site)");
    expect(row.textContent).toContain("92.0% (95% CI 80.0%–97.0%)");
    expect(row.textContent).toContain("25 / 40");
  });
});
