// The worklist over a stubbed API: the cases waiting for a clinician come from GET /worklist in its
// priority order, with the priority's parts, why each case is there and its autonomy level; the level
// filter lives in the address and reaches the API; other statuses list predictions, newest first.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Prediction, WorklistEntry } from "../api/client";
import { apiError, hiddenPrediction, json, prediction as fixturePrediction, TASK } from "../test/fixtures";
import { Worklist } from "./Worklist";

const prediction = (id: string, overrides: Partial<Prediction> = {}): Prediction =>
  fixturePrediction({ id, image_id: `${id}-image`, probabilities: { normal: 0.3, pneumonia: 0.7 }, confidence: 0.7, uncertainty: 0.88, ...overrides });

// `cases_in_study` is 1 unless a test says otherwise (the API's default).
type Entry = Omit<WorklistEntry, "cases_in_study"> & { cases_in_study?: number };
let entries: Entry[];
const baseEntries = (): Entry[] => [
  { prediction: prediction("b"), priority: 0.71, components: { uncertainty: 0.88, disagreement_risk: 0.6, waiting: 0.4 }, reason: "review" },
  {
    prediction: prediction("a", { status: "final", autonomy_level: "semi_autonomous", finalized_by: "rule:semi_autonomous(confidence>=0.97)", audit_sample: true, confidence: 0.98, uncertainty: 0.1 }),
    priority: 0.12,
    components: { uncertainty: 0.1, disagreement_risk: 0.05, waiting: 0.3 },
    reason: "audit",
  },
];

let requests: URL[];

beforeEach(() => {
  entries = baseEntries();
  requests = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      requests.push(url);
      if (url.pathname === "/api/v1/tasks") return json([]);
      if (url.pathname === "/api/v1/worklist") return json({ items: entries.map((entry) => ({ cases_in_study: 1, ...entry })), total: entries.length, limit: 50, offset: 0 });
      if (url.pathname === "/api/v1/predictions") return json({ items: [entries[1]!.prediction], total: 1, limit: 50, offset: 0 });
      return apiError(404, "not_found", "no stub");
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderWorklist(entry = "/worklist") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const router = createMemoryRouter([{ path: "/worklist", element: <Worklist /> }, { path: "/cases/:id", element: <p>case</p> }], {
    initialEntries: [entry],
  });
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

describe("Worklist", () => {
  it("lists the waiting cases in the API's priority order, with its parts, the reason and the level", async () => {
    renderWorklist();
    const table = await screen.findByTestId("worklist");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.getAttribute("data-prediction-id"))).toEqual(["b", "a"]);
    expect(rows[0]!.textContent).toContain("0.71");
    expect(rows[0]!.textContent).toContain("Uncertainty 0.88 × 0.5, Disagreement risk 0.60 × 0.3, Waiting 0.40 × 0.2");
    expect(rows[0]!.textContent).toContain("review");
    expect(rows[0]!.textContent).toContain("Supervised");
    expect(rows[1]!.textContent).toContain("audit");
    expect(rows[1]!.textContent).toContain("Semi-autonomous");
    expect(requests.some((url) => url.pathname === "/api/v1/predictions")).toBe(false);
  });

  it("keeps the level filter in the address and sends it to the API", async () => {
    const router = renderWorklist("/worklist?site=nih");
    await screen.findByTestId("worklist");
    fireEvent.change(screen.getByLabelText("Autonomy level"), { target: { value: "semi_autonomous" } });
    await waitFor(() => expect(router.state.location.search).toBe("?site=nih&level=semi_autonomous"));
    await waitFor(() =>
      expect(requests.some((url) => url.pathname === "/api/v1/worklist" && url.searchParams.get("level") === "semi_autonomous" && url.searchParams.get("site") === "nih")).toBe(true),
    );
  });

  it("starts reading at the top of the worklist, keeping the filters", async () => {
    const router = renderWorklist("/worklist?task=" + TASK);
    await screen.findByTestId("worklist");
    fireEvent.click(screen.getByRole("button", { name: "Start reading" }));
    await waitFor(() => expect(router.state.location.pathname).toBe("/cases/b"));
    expect(router.state.location.search).toBe(`?task=${TASK}`);
  });

  it("lists final cases from the predictions, with the rule that finalised them", async () => {
    renderWorklist("/worklist?status=final");
    const table = await screen.findByTestId("worklist");
    expect(table.textContent).toContain("final (rule semi_autonomous(confidence>=0.97))");
    expect(table.textContent).toContain("audit sample");
    expect(screen.queryByLabelText("Autonomy level")).toBeNull();
    expect(screen.queryByRole("group", { name: "One row per" })).toBeNull();
    expect(requests.find((url) => url.pathname === "/api/v1/predictions")!.searchParams.get("status")).toBe("final");
  });

  it("shows a blind read without its answer, confidence, uncertainty or the priority's parts", async () => {
    entries = [{ prediction: hiddenPrediction({ id: "c" }), priority: 0.66, components: null, reason: "review" }, ...baseEntries()];
    renderWorklist();
    const table = await screen.findByTestId("worklist");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => row.getAttribute("data-prediction-id"))).toEqual(["c", "b", "a"]);
    const blind = rows[0]!;
    expect(within(blind).getByTestId("blind-read").textContent).toBe("Blind read");
    expect(blind.querySelector(".label-chip")).toBeNull();
    expect(blind.textContent).not.toMatch(/%|0\.66|Uncertainty/);
    expect(blind.textContent).toContain("blind read: priority hidden");
    // The other rows still show theirs.
    expect(rows[1]!.querySelector(".label-chip")!.textContent).toBe("pneumonia");
    expect(rows[1]!.textContent).toContain("70.0%");
  });

  it("flags a case out of distribution, hidden or not", async () => {
    entries = [
      { prediction: hiddenPrediction({ id: "c", out_of_distribution: true }), priority: 0.66, components: null, reason: "review" },
      { prediction: prediction("d", { out_of_distribution: true }), priority: 0.5, components: { uncertainty: 0.5, disagreement_risk: 0.5, waiting: 0.5 }, reason: "review" },
      { prediction: prediction("e", { out_of_distribution: null }), priority: 0.4, components: { uncertainty: 0.5, disagreement_risk: 0.3, waiting: 0.5 }, reason: "review" },
    ];
    renderWorklist();
    const table = await screen.findByTestId("worklist");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => within(row).queryByTestId("out-of-distribution")?.textContent ?? null)).toEqual([
      "⚠ Out of distribution",
      "⚠ Out of distribution",
      null,
    ]);
  });

  describe("one row per case or per study", () => {
    const STUDY = "2.25.111";
    const studyEntries = (): Entry[] => [
      { ...baseEntries()[0]!, study_instance_uid: STUDY, cases_in_study: 3 },
      { ...baseEntries()[1]!, study_instance_uid: null, cases_in_study: 1 },
    ];
    const worklistAsked = () => requests.filter((url) => url.pathname === "/api/v1/worklist");

    it("sends group=study when the toggle is set to study, and keeps it in the address", async () => {
      const router = renderWorklist("/worklist?site=nih");
      await screen.findByTestId("worklist");
      const toggle = screen.getByRole("group", { name: "One row per" });
      const [byCase, byStudy] = [within(toggle).getByRole("button", { name: "case" }), within(toggle).getByRole("button", { name: "study" })];
      expect(byCase.getAttribute("aria-pressed")).toBe("true");
      expect(byStudy.getAttribute("aria-pressed")).toBe("false");
      expect(worklistAsked().every((url) => !url.searchParams.has("group"))).toBe(true);

      fireEvent.click(byStudy);
      await waitFor(() => expect(router.state.location.search).toBe("?site=nih&group=study"));
      await waitFor(() => expect(worklistAsked().some((url) => url.searchParams.get("group") === "study" && url.searchParams.get("site") === "nih")).toBe(true));
      expect(screen.getByRole("button", { name: "study" }).getAttribute("aria-pressed")).toBe("true");

      // Back to one row per case: the address and the request drop the grouping.
      const asked = worklistAsked().length;
      fireEvent.click(screen.getByRole("button", { name: "case" }));
      await waitFor(() => expect(router.state.location.search).toBe("?site=nih"));
      await waitFor(() => expect(worklistAsked().length).toBeGreaterThan(asked));
      expect(worklistAsked().at(-1)!.searchParams.has("group")).toBe(false);
    });

    it("shows the study's case count on a grouped row, which opens its representative case", async () => {
      entries = studyEntries();
      const router = renderWorklist("/worklist?group=study");
      const table = await screen.findByTestId("worklist");
      expect(worklistAsked()[0]!.searchParams.get("group")).toBe("study");
      const rows = within(table).getAllByRole("row").slice(1);
      expect(rows.map((row) => within(row).queryByTestId("study-group")?.textContent ?? null)).toEqual(["Study · 3 cases", null]);
      expect(screen.getByTestId("worklist-count").textContent).toContain("a study's cases as one");
      fireEvent.click(within(rows[0]!).getByRole("link"));
      await waitFor(() => expect(router.state.location.pathname).toBe("/cases/b"));
      expect(router.state.location.search).toBe("?group=study");
    });

    it("shows no study badge in case mode", async () => {
      entries = studyEntries();
      renderWorklist();
      const table = await screen.findByTestId("worklist");
      expect(within(table).getAllByRole("row")).toHaveLength(3);
      expect(within(table).queryByTestId("study-group")).toBeNull();
      expect(table.textContent).not.toContain("Study ·");
      expect(worklistAsked()[0]!.searchParams.has("group")).toBe(false);
    });
  });
});
