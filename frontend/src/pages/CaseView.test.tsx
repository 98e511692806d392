// The case view's AI answer: next to the model version, how it was routed (the site's own version or
// the task's default), and the decision threshold in force with where it came from. A blind read shows
// the image only (no label, probabilities, confidence or heatmap, not even requested) until the
// clinician's label is in; then the answer is revealed with whether the read matched it. An image out
// of distribution is flagged.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { LearningQueueEntry, Prediction } from "../api/client";
import { apiError, hiddenPrediction, json, prediction as fixturePrediction, TASK } from "../test/fixtures";
import { AiAnswer, CaseView } from "./CaseView";

const prediction = (overrides: Partial<Prediction> = {}): Prediction =>
  fixturePrediction({
    model_version: `${TASK}.v3`,
    probabilities: { normal: 0.66, pneumonia: 0.34 },
    predicted_label: "pneumonia",
    confidence: 0.66,
    uncertainty: 0.92,
    site: "ward-b",
    routing: "site",
    decision_threshold: 0.31,
    operating_point: "site",
    ...overrides,
  });

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe("AiAnswer", () => {
  it("shows the site's own version and the threshold chosen at the site", () => {
    render(<AiAnswer prediction={prediction()} labels={["normal", "pneumonia"]} />);
    const model = screen.getByTestId("model-version");
    expect(model.textContent).toBe(`${TASK}.v3 site's own version`);
    expect(model.querySelector("[data-routing]")!.getAttribute("data-routing")).toBe("site");
    const decision = screen.getByTestId("decision-threshold");
    expect(decision.textContent).toBe("threshold 0.31 (site)");
    expect(decision.querySelector("[data-source]")!.getAttribute("title")).toMatch(/this site's verified cases/);
    // Pneumonia at 34% is the AI's label: above the site's threshold, though not the likelier label.
    expect(screen.getByTestId("predicted-label").textContent).toBe("pneumonia");
    expect(screen.queryByTestId("out-of-distribution")).toBeNull();
  });

  it("shows the task's default and the version's own threshold", () => {
    render(<AiAnswer prediction={prediction({ routing: "default", decision_threshold: 0.4237, operating_point: "version" })} labels={["normal", "pneumonia"]} />);
    expect(screen.getByTestId("model-version").textContent).toBe(`${TASK}.v3 task default`);
    expect(screen.getByTestId("decision-threshold").textContent).toBe("threshold 0.424 (version)");
  });

  it("says 'highest probability' when no threshold is served", () => {
    render(
      <AiAnswer
        prediction={prediction({ routing: "default", decision_threshold: null, operating_point: "argmax", predicted_label: "normal" })}
        labels={["normal", "pneumonia"]}
      />,
    );
    expect(screen.getByTestId("decision-threshold").textContent).toBe("highest probability");
  });

  it("hides every part of the answer on a blind read", () => {
    render(<AiAnswer prediction={hiddenPrediction()} labels={["normal", "pneumonia"]} />);
    expect(screen.getByTestId("blind-notice").textContent).toBe("Blind read — the AI's answer is hidden until you give your label.");
    expect(screen.queryByTestId("predicted-label")).toBeNull();
    expect(screen.queryByTestId("probabilities")).toBeNull();
    expect(screen.queryByTestId("confidence")).toBeNull();
    expect(screen.queryByTestId("decision-threshold")).toBeNull();
    const panel = screen.getByTestId("ai-answer");
    expect(panel.textContent!.replaceAll(TASK, "")).not.toMatch(/%|pneumonia|normal|Confidence|Uncertainty|threshold/);
    // What gives nothing away stays: the level, the version, the site.
    expect(screen.getByTestId("model-version").textContent).toContain(`${TASK}.v1`);
  });

  it("flags an image out of distribution, with its distance", () => {
    render(<AiAnswer prediction={prediction({ out_of_distribution: true, ood_distance: 41.27 })} labels={["normal", "pneumonia"]} />);
    expect(screen.getByTestId("out-of-distribution").textContent).toContain("Out of distribution");
    const warning = screen.getByTestId("ood-warning");
    expect(warning.textContent).toContain("unlike the images");
    expect(warning.textContent).toContain("41.3");
    expect(warning.textContent).toContain("never made final automatically");
  });

  it("flags an image out of distribution on a blind read too", () => {
    render(<AiAnswer prediction={hiddenPrediction({ out_of_distribution: true })} labels={["normal", "pneumonia"]} />);
    expect(screen.getByTestId("ood-warning")).toBeTruthy();
    expect(screen.queryByTestId("probabilities")).toBeNull();
  });
});

// --- the whole case view over a stubbed API ----------------------------------------------------------

const ID = hiddenPrediction().id;
let revealed: boolean;
let requests: { method: string; path: string; body?: unknown }[];
let images: string[];
let worklist: unknown[];
/** GET /learning-queue's entries, and what they become once a verdict is given (the server re-ranks). */
let learning: LearningQueueEntry[];
let learningAfterVerdict: LearningQueueEntry[] | null;
/** Cases read with their answer shown, for reading in a queue's order. */
let cases: Prediction[];
/** A case whose answer is shown, read before the blind one. */
const OTHER = fixturePrediction({ id: "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a", image_id: "1a2b3c4d-0000-4000-8000-000000000009" });

/** Image loads in the viewer are `new Image().src = url`: recorded here (never loaded in jsdom). */
class RecordedImage {
  decoding = "";
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  set src(url: string) {
    images.push(url);
  }
}

beforeEach(() => {
  revealed = false;
  worklist = [];
  learning = [];
  learningAfterVerdict = null;
  cases = [];
  requests = [];
  images = [];
  // The reader keeps the heatmap on: it must still not be asked for while the answer is hidden.
  localStorage.setItem("imaging-ai.heatmap", "true");
  vi.stubGlobal("Image", RecordedImage);
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      disconnect() {}
    },
  );
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      const path = url.pathname;
      const body = request.method === "POST" ? await request.clone().json() : undefined;
      requests.push({ method: request.method, path, body });
      if (path === "/api/v1/tasks")
        return json([{ name: TASK, title: "Chest X-ray: pneumonia", description: "", modality: "CR", accepted_modalities: ["CR"], labels: ["normal", "pneumonia"], active_version: `${TASK}.v1` }]);
      if (path === `/api/v1/predictions/${ID}`)
        return json(revealed ? fixturePrediction({ blind_read: true, status: "reviewed" }) : hiddenPrediction());
      if (path === `/api/v1/predictions/${ID}/feedback` && request.method === "POST") {
        revealed = true;
        return json(
          { id: "v1", prediction_id: ID, sequence: 1, verdict: "disagree", label: "normal", reviewer: "dr.lee", notes: null, blind: true, created_at: "2026-11-27T09:31:00Z" },
          201,
        );
      }
      if (path === `/api/v1/predictions/${ID}/feedback`)
        return json({
          prediction_id: ID,
          predicted_label: revealed ? "pneumonia" : null,
          label_of_record: revealed ? "normal" : null,
          verdicts: revealed
            ? [{ id: "v1", prediction_id: ID, sequence: 1, verdict: "disagree", label: "normal", reviewer: "dr.lee", notes: null, blind: true, created_at: "2026-11-27T09:31:00Z" }]
            : [],
        });
      if (path === "/api/v1/worklist") return json({ items: worklist, total: worklist.length, limit: 50, offset: 0 });
      if (path === `/api/v1/predictions/${OTHER.id}`) return json(OTHER);
      if (path === "/api/v1/learning-queue")
        return json({ items: learning, total: learning.length, limit: Number(url.searchParams.get("limit")), offset: 0, random_share: 0.3 });
      const one = cases.find((item) => path.startsWith(`/api/v1/predictions/${item.id}`));
      if (one && path.endsWith("/feedback") && request.method === "POST") {
        if (learningAfterVerdict) learning = learningAfterVerdict;
        worklist = worklist.filter((entry) => (entry as { prediction: Prediction }).prediction.id !== one.id);
        return json({ id: "v2", prediction_id: one.id, sequence: 1, verdict: "agree", label: null, reviewer: "dr.lee", notes: null, blind: false, created_at: "2026-11-27T09:31:00Z" }, 201);
      }
      if (one && path.endsWith("/feedback")) return json({ prediction_id: one.id, predicted_label: one.predicted_label, label_of_record: null, verdicts: [] });
      if (one) return json(one);
      if (path.startsWith("/api/v1/images/"))
        return json({ id: hiddenPrediction().image_id, cols: 1024, rows: 1024, format: "png", modality: null });
      return apiError(404, "not_found", `no stub for ${path}`);
    }),
  );
});

function renderCase(id = ID, query = "") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const router = createMemoryRouter([{ path: "/cases/:predictionId", element: <CaseView /> }], { initialEntries: [`/cases/${id}${query}`] });
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

const heatmapAsked = () => [...images, ...requests.map((request) => request.path)].filter((url) => url.includes("/heatmap"));

describe("CaseView on a blind read", () => {
  it("shows the image only, never asks for the heatmap, sends the label read, then reveals the answer", async () => {
    renderCase();
    await screen.findByTestId("blind-notice");
    await screen.findByRole("button", { name: /Read as normal/ });
    // The image is there; the answer is not, nor anything derived from it.
    expect(images.some((url) => url.includes(`/images/${hiddenPrediction().image_id}/render`))).toBe(true);
    expect(screen.queryByTestId("predicted-label")).toBeNull();
    expect(screen.queryByTestId("probabilities")).toBeNull();
    expect(screen.queryByTestId("heatmap-toggle")).toBeNull();
    expect(screen.getByTestId("heatmap-hidden").textContent).toContain("after your read");
    expect(screen.queryByRole("button", { name: /Agree/ })).toBeNull();
    fireEvent.keyDown(window, { key: "h" });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(heatmapAsked()).toEqual([]);

    fireEvent.click(screen.getByRole("button", { name: /Read as normal/ }));
    await waitFor(() => expect(requests.some((r) => r.method === "POST")).toBe(true));
    expect(requests.find((r) => r.method === "POST")!.body).toEqual({ verdict: "read", label: "normal", notes: null });

    // Revealed in place: the label, the probabilities, the heatmap, and how the read compares.
    const label = await screen.findByTestId("predicted-label");
    expect(label.textContent).toBe("pneumonia");
    expect(within(screen.getByTestId("probabilities")).getByText("92.0%")).toBeTruthy();
    const outcome = await screen.findByTestId("blind-outcome");
    expect(outcome.getAttribute("data-matched")).toBe("false");
    expect(outcome.textContent).toContain("Your blind read normal differs from the AI's answer, pneumonia");
    await waitFor(() => expect(heatmapAsked()).toEqual([`/api/v1/predictions/${ID}/heatmap`]));
    expect(screen.getByTestId("heatmap-toggle").getAttribute("aria-pressed")).toBe("true");
    expect(screen.getByTestId("verdict-history").textContent).toContain("read normal");
  });

  it("prefetches the next case's image but not its heatmap when it is read blind", async () => {
    worklist = [
      { prediction: OTHER, priority: 0.6, components: { uncertainty: 0.5, disagreement_risk: 0.5, waiting: 0.5 }, reason: "review" },
      { prediction: hiddenPrediction(), priority: 0.4, components: null, reason: "review" },
    ];
    renderCase(OTHER.id);
    await screen.findByTestId("predicted-label");
    await waitFor(() => expect(images).toContain(`/api/v1/images/${hiddenPrediction().image_id}/render?size=2048`));
    await waitFor(() => expect(heatmapAsked()).toContain(`/api/v1/predictions/${OTHER.id}/heatmap`));
    expect(heatmapAsked().filter((url) => url.includes(ID))).toEqual([]);
  });
});

// --- which queue Next, Previous and the move after a verdict follow -----------------------------------

const caseOf = (n: number) =>
  fixturePrediction({ id: `c0000000-0000-4000-8000-00000000000${n}`, image_id: `i0000000-0000-4000-8000-00000000000${n}`, site: "ward-b" });
const [A, B, C] = [caseOf(1), caseOf(2), caseOf(3)];
const inWorklist = (item: Prediction) => ({ prediction: item, priority: 0.5, components: { uncertainty: 0.5, disagreement_risk: 0.5, waiting: 0.5 }, reason: "review" });
const inLearning = (item: Prediction, rank: number): LearningQueueEntry => ({
  rank,
  strategy: "random",
  reason: "drawn at random",
  scored_by: `${TASK}.v1`,
  stale: false,
  prediction: item,
});
const FROM_LEARN = `?task=${TASK}&site=ward-b&from=learn`;
const asked = (path: string) => requests.some((request) => request.path === path);

describe("CaseView's reading order", () => {
  beforeEach(() => {
    cases = [A, B, C];
    // The worklist reads A, B, C; the learning queue A, C, B.
    worklist = [inWorklist(A), inWorklist(B), inWorklist(C)];
    learning = [inLearning(A, 1), inLearning(C, 2), inLearning(B, 3)];
  });

  it("opened from the learning queue, follows its order (Next, Previous, prefetch) and links back to it", async () => {
    const router = renderCase(A.id, FROM_LEARN);
    await screen.findByTestId("predicted-label");
    await waitFor(() => expect(screen.getByText("Case 1 of 3 in the learning queue")).toBeTruthy());
    // The learning queue's next case is the one loaded ahead.
    await waitFor(() => expect(images).toContain(`/api/v1/images/${C.image_id}/render?size=2048`));
    expect(images).not.toContain(`/api/v1/images/${B.image_id}/render?size=2048`);
    const back = screen.getByRole("link", { name: "← Teach the model" });
    expect(back.getAttribute("href")).toBe(`/learn?task=${TASK}&site=ward-b`);

    fireEvent.click(screen.getByTestId("next-case"));
    await waitFor(() => expect(router.state.location.pathname).toBe(`/cases/${C.id}`));
    // The scope travels with the reading.
    expect(router.state.location.search).toBe(FROM_LEARN);
    await waitFor(() => expect(screen.getByText("Case 2 of 3 in the learning queue")).toBeTruthy());
    fireEvent.click(screen.getByRole("button", { name: /Previous/ }));
    await waitFor(() => expect(router.state.location.pathname).toBe(`/cases/${A.id}`));

    // The learning queue of the same task and site was asked for; the worklist never was.
    const queueRequest = vi
      .mocked(fetch)
      .mock.calls.map(([request]) => new URL((request as Request).url))
      .find((url) => url.pathname === "/api/v1/learning-queue")!;
    expect(queueRequest.searchParams.get("task")).toBe(TASK);
    expect(queueRequest.searchParams.get("site")).toBe("ward-b");
    expect(asked("/api/v1/worklist")).toBe(false);
  });

  it("opened from the learning queue, moves on after a verdict to the re-ranked queue's first case", async () => {
    // The verdict on A takes it out, and the server re-ranks the rest: B first now (C was next before).
    learningAfterVerdict = [inLearning(B, 1), inLearning(C, 2)];
    const router = renderCase(A.id, FROM_LEARN);
    await screen.findByTestId("predicted-label");
    await waitFor(() => expect(screen.getByText("Case 1 of 3 in the learning queue")).toBeTruthy());
    fireEvent.click(screen.getByRole("button", { name: /Agree/ }));
    await waitFor(() => expect(router.state.location.pathname).toBe(`/cases/${B.id}`));
    expect(router.state.location.search).toBe(FROM_LEARN);
    expect(await screen.findByText("Verdict saved on the previous case.")).toBeTruthy();
    expect(asked("/api/v1/worklist")).toBe(false);
  });

  it("without from=learn, follows the worklist, also after a verdict", async () => {
    const router = renderCase(A.id, `?task=${TASK}`);
    await screen.findByTestId("predicted-label");
    await waitFor(() => expect(screen.getByText("Case 1 of 3 in the worklist")).toBeTruthy());
    expect(screen.getByRole("link", { name: "← Worklist" }).getAttribute("href")).toBe(`/worklist?task=${TASK}`);
    fireEvent.click(screen.getByTestId("next-case"));
    await waitFor(() => expect(router.state.location.pathname).toBe(`/cases/${B.id}`));
    expect(router.state.location.search).toBe(`?task=${TASK}`);
    await waitFor(() => expect(screen.getByText("Case 2 of 3 in the worklist")).toBeTruthy());
    fireEvent.click(screen.getByRole("button", { name: /Agree/ }));
    await waitFor(() => expect(router.state.location.pathname).toBe(`/cases/${C.id}`));
    expect(asked("/api/v1/learning-queue")).toBe(false);
  });
});
