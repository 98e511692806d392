// The Models screen against a stubbed API: versions with lineage and metrics, a held-back job with
// its reason, and promotion / rollback through confirmation dialogs that state the metrics.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Models } from "./Models";

const TASK = "chest-xray-pneumonia";
const metrics = (auc: number, n: number) => ({ auc, accuracy: 0.8, sensitivity: 0.9, specificity: 0.7, n });
const v1 = {
  id: `${TASK}.v1`,
  task: TASK,
  status: "retired",
  parent: null,
  weights_sha256: "a".repeat(64),
  created_at: "2026-11-01T00:00:00Z",
  activated_at: "2026-11-01T00:00:00Z",
  metrics: { "source-test": metrics(0.956, 624) },
};
const v2 = {
  ...v1,
  id: `${TASK}.v2`,
  status: "active",
  parent: v1.id,
  activated_at: "2026-11-20T00:00:00Z",
  metrics: { "source-test": metrics(0.951, 624), sequestered: metrics(0.81, 40) },
};
const v3 = { ...v1, id: `${TASK}.v3`, status: "candidate", parent: v2.id, activated_at: null, metrics: { sequestered: metrics(0.79, 40) } };
const heldBack = {
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
  evaluation: { sequestered: { active: { auc: 0.81, n: 40 }, candidate: { auc: 0.79, n: 40 } } },
  error: null,
  cancel_requested: false,
  created_at: "2026-11-21T00:00:00Z",
  started_at: "2026-11-21T00:00:01Z",
  finished_at: "2026-11-21T00:02:01Z",
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
      if (path === "/api/v1/tasks")
        return json([{ name: TASK, title: "Chest X-ray: pneumonia", description: "", modality: "CR", accepted_modalities: ["CR"], labels: ["normal", "pneumonia"], active_version: v2.id }]);
      if (path === `/api/v1/tasks/${TASK}/models`) return json([v1, v2, v3]);
      if (path === "/api/v1/training-jobs") return json([heldBack]);
      if (path.startsWith("/api/v1/models/")) {
        const id = decodeURIComponent(path.split("/").pop()!);
        const version = [v1, v2, v3].find((v) => v.id === id)!;
        return json({ ...version, lineage: version.parent ? [version.parent] : [], children: [], card: { training_data: { sites: ["nih"] } } });
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
});
