// "Teach the model" over a stubbed API: the entries of GET /learning-queue in the API's order (not the
// worklist's), each with its strategy's label and the reason in words; a blind read without its answer;
// the random share in the explanation; the task (the first by default) and the site in the request and
// the address; a stale score marked; paging; the empty and error states.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LearningQueueEntry, Prediction, Task } from "../api/client";
import { apiError, hiddenPrediction, json, prediction as fixturePrediction, TASK, VERSION } from "../test/fixtures";
import { LearningQueue } from "./LearningQueue";

const prediction = (id: string, overrides: Partial<Prediction> = {}): Prediction =>
  fixturePrediction({ id, image_id: `${id}-image`, ...overrides });

const task = (name: string, title: string) => ({ name, title }) as Task;
const TASKS = [task(TASK, "Chest X-ray: pneumonia"), task("brain-mri-tumour", "Brain MRI: tumour")];

const STRATIFIED =
  "answers of `normal` here are wrong an estimated 41% of the time (3 of 20 verified answers of chest-xray-pneumonia.v1 here: sampled by estimated error)";
const RANDOM = "drawn at random: keeps what the model learns from (and the gate's evidence) unbiased";
const HIDDEN = "chosen for learning; why is shown once the blind read is in";

let entries: LearningQueueEntry[];
let total: number | undefined;
let failing: boolean;
let requests: URL[];

const baseEntries = (): LearningQueueEntry[] => [
  { rank: 1, strategy: "stratified", reason: STRATIFIED, scored_by: VERSION, stale: false, prediction: prediction("s1", { predicted_label: "normal", confidence: 0.81 }) },
  { rank: 2, strategy: "random", reason: RANDOM, scored_by: VERSION, stale: false, prediction: prediction("r1", { confidence: 0.64 }) },
  { rank: 3, strategy: "stratified", reason: HIDDEN, scored_by: VERSION, stale: false, prediction: hiddenPrediction({ id: "h1" }) },
  {
    rank: 4,
    strategy: "uncertain_diverse",
    reason: "uncertain and unlike the cases above it (chest-xray-pneumonia.v2 is right on 88% here)",
    scored_by: VERSION,
    stale: true,
    prediction: prediction("u1", { confidence: 0.55 }),
  },
];

beforeEach(() => {
  entries = baseEntries();
  total = undefined;
  failing = false;
  requests = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      requests.push(url);
      if (url.pathname === "/api/v1/tasks") return json(TASKS);
      if (url.pathname === "/api/v1/learning-queue") {
        if (failing) return apiError(404, "unknown_task", "No such task.");
        return json({ items: entries, total: total ?? entries.length, limit: Number(url.searchParams.get("limit")), offset: Number(url.searchParams.get("offset")), random_share: 0.3 });
      }
      return apiError(404, "not_found", "no stub");
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderQueue(entry = "/learn") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const router = createMemoryRouter([{ path: "/learn", element: <LearningQueue /> }, { path: "/cases/:id", element: <p>case</p> }], {
    initialEntries: [entry],
  });
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

const queueRequests = () => requests.filter((url) => url.pathname === "/api/v1/learning-queue");

describe("LearningQueue", () => {
  it("lists the entries in the API's order, with the strategy's label and the reason", async () => {
    renderQueue();
    const table = await screen.findByTestId("learning-queue");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.getAttribute("data-prediction-id"))).toEqual(["s1", "r1", "h1", "u1"]);
    expect(rows.map((row) => (row as HTMLTableRowElement).cells[0]!.textContent)).toEqual(["1", "2", "3", "4"]);
    expect(rows.map((row) => within(row).getByTestId("strategy").textContent)).toEqual([
      "Estimated error",
      "Random draw",
      "Estimated error",
      "Uncertain & diverse",
    ]);
    const reasons = rows.map((row) => within(row).getByTestId("learning-reason"));
    expect(reasons[0]!.textContent).toBe(STRATIFIED.replace(/`/g, ""));
    expect(reasons[0]!.querySelector("code")!.textContent).toBe("normal");
    expect(reasons[1]!.textContent).toBe(RANDOM);
    expect(rows[0]!.querySelector(".label-chip")!.textContent).toBe("normal");
    expect(rows[0]!.textContent).toContain("81.0%");
    // The case opens in this queue's order (`from=learn`), for the same task.
    expect(within(rows[0]!).getByRole("link").getAttribute("href")).toBe(`/cases/s1?task=${TASK}&from=learn`);
  });

  it("shows a blind read without its answer", async () => {
    renderQueue();
    const table = await screen.findByTestId("learning-queue");
    const blind = within(table).getAllByRole("row")[3]!;
    expect(blind.getAttribute("data-prediction-id")).toBe("h1");
    expect(within(blind).getByTestId("blind-read").textContent).toBe("Blind read");
    expect(blind.querySelector(".label-chip")).toBeNull();
    // No label, confidence or label-naming reason (the version's id names the task, not the answer).
    expect(blind.textContent).not.toMatch(/%|\bnormal\b|\bpneumonia\b(?!\.v)/);
    expect(blind.querySelector("code")).toBeNull();
    expect(blind.textContent).toContain(HIDDEN);
  });

  it("explains the order with the random share, and marks a stale score", async () => {
    renderQueue();
    const intro = await screen.findByTestId("learning-intro");
    expect(intro.textContent).toBe(
      "The order in which your verdicts teach the model most. 30% are drawn at random so the evidence stays unbiased; the worklist keeps the order for patient care.",
    );
    const rows = within(screen.getByTestId("learning-queue")).getAllByRole("row").slice(1);
    expect(rows.map((row) => within(row).queryByTestId("stale")?.textContent ?? null)).toEqual([null, null, null, "re-scoring"]);
    expect(screen.getByTestId("learning-count").textContent).toBe("4 cases waiting");
  });

  it("asks for the first task by default, and keeps the chosen task and site in the address", async () => {
    const router = renderQueue();
    await screen.findByTestId("learning-queue");
    expect(queueRequests()[0]!.searchParams.get("task")).toBe(TASK);
    expect(queueRequests()[0]!.searchParams.get("limit")).toBe("20");
    fireEvent.change(screen.getByLabelText("Task"), { target: { value: "brain-mri-tumour" } });
    await waitFor(() => expect(router.state.location.search).toBe("?task=brain-mri-tumour"));
    fireEvent.change(screen.getByLabelText("Site"), { target: { value: "nih" } });
    fireEvent.blur(screen.getByLabelText("Site"));
    await waitFor(() => expect(router.state.location.search).toBe("?task=brain-mri-tumour&site=nih"));
    await waitFor(() =>
      expect(queueRequests().some((url) => url.searchParams.get("task") === "brain-mri-tumour" && url.searchParams.get("site") === "nih")).toBe(true),
    );
    // The cases open in the learning queue of the same task and site.
    await waitFor(() =>
      expect(within(screen.getByTestId("learning-queue")).getAllByRole("link")[0]!.getAttribute("href")).toBe(
        "/cases/s1?task=brain-mri-tumour&site=nih&from=learn",
      ),
    );
  });

  it("pages through a long queue", async () => {
    total = 45;
    const router = renderQueue(`/learn?task=${TASK}`);
    await screen.findByTestId("learning-queue");
    expect(screen.getByText("1–20 of 45")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Next page" }));
    await waitFor(() => expect(router.state.location.search).toBe(`?task=${TASK}&offset=20`));
    await waitFor(() => expect(queueRequests().some((url) => url.searchParams.get("offset") === "20")).toBe(true));
  });

  it("says when no case is waiting, and shows the API's error", async () => {
    entries = [];
    renderQueue();
    expect(await screen.findByText("No cases are waiting for a verdict.")).toBeTruthy();
    cleanup();
    failing = true;
    renderQueue("/learn?task=nope");
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("Could not load the learning queue: No such task.");
    expect(alert.textContent).toContain("unknown_task");
  });
});
