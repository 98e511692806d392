// The case view's window/level in modality units (HU for CT: presets, bounded inputs, a return to the
// file default, each window sent to the render URL) and the slice navigator of a DICOM series, over a
// stubbed API. Image loads are recorded through a stubbed `Image` (never loaded in jsdom).
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Prediction } from "../api/client";
import { apiError, json, prediction as fixturePrediction } from "../test/fixtures";
import { CaseView } from "./CaseView";

const CT_TASK = "chest-ct-covid";
const SERIES = "2.25.2234567890123456789012345678901234567";
const sliceId = (n: number) => `i0000000-0000-4000-8000-00000000010${n}`;
const slicePrediction = (n: number, overrides: Partial<Prediction> = {}) =>
  fixturePrediction({
    id: `p0000000-0000-4000-8000-00000000010${n}`,
    image_id: sliceId(n),
    task: CT_TASK,
    model_version: `${CT_TASK}.v1`,
    probabilities: { normal: n === 3 ? 0.1 : 0.8, covid: n === 3 ? 0.9 : 0.2 },
    predicted_label: n === 3 ? "covid" : "normal",
    confidence: n === 3 ? 0.9 : 0.8,
    ...overrides,
  });
/** The case: the second of three slices. */
let current: Prediction;
let images: string[];
let records: Record<string, unknown>;
let series: unknown;

const RULE = "Two-label tasks: the series' positive-label probability is the maximum over its slices.";
const seriesOf = (slices: number[], answers: unknown[]) => ({
  series_instance_uid: SERIES,
  study_instance_uid: "2.25.1",
  modality: "CT",
  body_part: "CHEST",
  site: "nih",
  instance_count: slices.length,
  first_received_at: "2026-12-04T09:30:01Z",
  last_received_at: "2026-12-04T09:30:17Z",
  instances: slices.map((n) => ({ image_id: sliceId(n), sop_instance_uid: `2.25.${n}`, instance_number: n * 10, prediction: n === 1 ? null : slicePrediction(n) })),
  answers,
});

const ctRecord = (id: string, n: number) => ({
  id,
  cols: 512,
  rows: 512,
  format: "dicom",
  modality: "CT",
  photometric_interpretation: "MONOCHROME2",
  series_instance_uid: SERIES,
  instance_number: n,
  value_range: [-1024, 3071],
  default_window: { center: 40, width: 350 },
});

class RecordedImage {
  decoding = "";
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  set src(url: string) {
    images.push(url);
  }
}

beforeEach(() => {
  images = [];
  current = slicePrediction(2);
  records = { [sliceId(2)]: ctRecord(sliceId(2), 2) };
  series = null;
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
      const path = new URL(request.url).pathname;
      if (path === "/api/v1/tasks")
        return json([{ name: CT_TASK, title: "Chest CT: COVID-19", description: "", modality: "CT", accepted_modalities: ["CT"], labels: ["normal", "covid"], active_version: `${CT_TASK}.v1` }]);
      if (path === `/api/v1/predictions/${current.id}`) return json(current);
      if (path === `/api/v1/predictions/${current.id}/feedback`) return json({ prediction_id: current.id, predicted_label: current.predicted_label, label_of_record: null, verdicts: [] });
      if (path === "/api/v1/worklist") return json({ items: [], total: 0, limit: 50, offset: 0 });
      if (path.startsWith("/api/v1/images/")) {
        const record = records[path.split("/")[4]!];
        return record ? json(record) : apiError(404, "not_found", "no such image");
      }
      if (path === `/api/v1/series/${SERIES}`) return series ? json(series) : apiError(404, "not_found", "Not Found");
      return apiError(404, "not_found", `no stub for ${path}`);
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  localStorage.clear();
});

function renderCase() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const router = createMemoryRouter([{ path: "/cases/:predictionId", element: <CaseView /> }], { initialEntries: [`/cases/${current.id}`] });
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

const lastRender = () => images.filter((url) => url.includes("/render")).at(-1);
const windowUrl = (id: string, center: number, width: number) => `/api/v1/images/${id}/render?size=2048&window_center=${center}&window_width=${width}`;

describe("window/level in modality units", () => {
  it("opens a CT image at its file default in HU, and the lung preset sends C -600 / W 1500 to the render URL", async () => {
    renderCase();
    const preset = await screen.findByLabelText("Preset");
    expect(screen.getByTestId("window-unit").textContent).toBe("(HU)");
    const centre = screen.getByLabelText("Centre (HU)") as HTMLInputElement;
    const width = screen.getByLabelText("Width (HU)") as HTMLInputElement;
    expect([centre.value, width.value]).toEqual(["40", "350"]);
    expect(screen.getByTestId("window-readout").textContent).toBe("W 350 / L 40 HU");
    expect(screen.getByRole("group", { name: "Window/level in Hounsfield units" })).toBeTruthy();
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(2), 40, 350)));
    // CT's presets: the file default, lung, mediastinum, bone, brain and the full range.
    expect(within(preset).getAllByRole("option").map((option) => option.textContent)).toEqual([
      "File default (C 40, W 350)",
      "Lung (C -600, W 1500)",
      "Mediastinum (C 40, W 400)",
      "Bone (C 400, W 1800)",
      "Brain (C 40, W 80)",
      "Full range (C 1024, W 4096)",
    ]);

    fireEvent.change(preset, { target: { value: "lung" } });
    expect([centre.value, width.value]).toEqual(["-600", "1500"]);
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(2), -600, 1500)));
    expect(screen.getByTestId("window-readout").textContent).toBe("W 1500 / L -600 HU");
  });

  it("returns to the file default with its button and with R", async () => {
    renderCase();
    const preset = await screen.findByLabelText("Preset");
    const reset = screen.getByTestId("window-default");
    expect((reset as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(preset, { target: { value: "bone" } });
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(2), 400, 1800)));
    expect((reset as HTMLButtonElement).disabled).toBe(false);
    fireEvent.click(reset);
    expect((preset as HTMLSelectElement).value).toBe("default");
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(2), 40, 350)));

    fireEvent.change(preset, { target: { value: "brain" } });
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(2), 40, 80)));
    fireEvent.keyDown(window, { key: "r" });
    expect((screen.getByLabelText("Width (HU)") as HTMLInputElement).value).toBe("350");
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(2), 40, 350)));
  });

  it("keeps typed values within the value range, and steps with PageUp", async () => {
    renderCase();
    const centre = (await screen.findByLabelText("Centre (HU)")) as HTMLInputElement;
    const width = screen.getByLabelText("Width (HU)") as HTMLInputElement;
    expect([centre.min, centre.max, width.min, width.max]).toEqual(["-1024", "3071", "1", "4096"]);
    fireEvent.change(centre, { target: { value: "-700" } });
    fireEvent.change(width, { target: { value: "99999" } });
    // Out of range: not applied while typing; leaving the field keeps the nearest allowed value.
    expect(screen.getByTestId("window-readout").textContent).toBe("W 350 / L -700 HU");
    fireEvent.blur(width);
    expect(width.value).toBe("4096");
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(2), -700, 4096)));
    expect((screen.getByLabelText("Preset") as HTMLSelectElement).value).toBe("custom");
    fireEvent.keyDown(centre, { key: "PageUp" });
    expect(centre.value).toBe("-636");
  });

  it("labels other modalities' values 'value', with the file default and the full range as presets", async () => {
    records = { [sliceId(2)]: { ...ctRecord(sliceId(2), 2), modality: "MR", value_range: [0, 1200], default_window: { center: 600, width: 1000 } } };
    renderCase();
    const preset = await screen.findByLabelText("Preset");
    expect(screen.getByTestId("window-unit").textContent).toBe("(value)");
    expect(screen.getByLabelText("Width (value)")).toBeTruthy();
    expect(within(preset).getAllByRole("option").map((option) => option.textContent)).toEqual(["File default (C 600, W 1000)", "Full range (C 600.5, W 1201)"]);
    fireEvent.change(preset, { target: { value: "full" } });
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(2), 600.5, 1201)));
  });

  it("keeps the display-unit window for images stored without a value range", async () => {
    records = { [sliceId(2)]: { id: sliceId(2), cols: 1024, rows: 1024, format: "png", modality: null, photometric_interpretation: "MONOCHROME2" } };
    renderCase();
    const preset = await screen.findByLabelText("Preset");
    expect(within(preset).getAllByRole("option").map((option) => option.textContent)).toContain("Dark detail (lung)");
    expect(screen.queryByTestId("window-unit")).toBeNull();
    expect(document.querySelector(".wl-readout")!.textContent).toBe("W 255 / L 128");
    fireEvent.change(preset, { target: { value: "dark" } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Windowed on the client: the image is asked for once, as the server renders it by default.
    expect(images.filter((url) => url.includes("/render"))).toEqual([`/api/v1/images/${sliceId(2)}/render?size=2048`]);
  });
});

describe("the series' slice navigator", () => {
  beforeEach(() => {
    series = seriesOf([1, 2, 3], [
      { task: "brain-mri-tumor", slices: 1, answer_hidden: false, label: "glioma", probability: 0.7, decision_threshold: null, deciding_image_id: null, deciding_instance_number: null, rule: RULE },
      { task: CT_TASK, slices: 2, answer_hidden: false, label: "covid", probability: 0.9, decision_threshold: 0.5, deciding_image_id: sliceId(3), deciding_instance_number: 30, rule: RULE },
    ]);
  });

  it("steps through the slices with the buttons, the keys and the slider, showing each slice's prediction", async () => {
    const router = renderCase();
    const position = await screen.findByTestId("slice-position");
    expect(position.textContent).toBe("Slice 2 of 3");
    expect(screen.getByTestId("slice-prediction").textContent).toContain("normal");
    expect(screen.getByText("this case's slice")).toBeTruthy();
    // The series-level answer of the case's task, with its rule stated and the slice it comes from.
    const answer = screen.getByTestId("series-answer");
    expect(answer.textContent).toContain("Series (2 slices answered): covid max 90.0% at threshold 0.5 from slice 3 (instance 30)");
    expect(answer.textContent).not.toContain("glioma");
    expect(screen.getByTestId("series-rule").textContent).toBe(`Rule: ${RULE}`);

    // The lung window is kept from slice to slice.
    fireEvent.change(screen.getByLabelText("Preset"), { target: { value: "lung" } });
    fireEvent.click(screen.getByRole("button", { name: "Next slice" }));
    expect(position.textContent).toBe("Slice 3 of 3");
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(3), -600, 1500)));
    expect(screen.getByTestId("slice-prediction").textContent).toContain("covid");
    expect(screen.getByTestId("slice-prediction").textContent).toContain("90.0%");
    expect(within(screen.getByTestId("slice-prediction")).getByRole("link", { name: "Open its case" }).getAttribute("href")).toBe(`/cases/${slicePrediction(3).id}`);
    expect((screen.getByRole("button", { name: "Next slice" }) as HTMLButtonElement).disabled).toBe(true);

    fireEvent.keyDown(window, { key: "PageUp" });
    fireEvent.keyDown(window, { key: "ArrowUp" });
    expect(position.textContent).toBe("Slice 1 of 3");
    expect(screen.getByTestId("slice-prediction").textContent).toContain("no prediction");
    await waitFor(() => expect(lastRender()).toBe(windowUrl(sliceId(1), -600, 1500)));
    fireEvent.keyDown(window, { key: "PageDown" });
    expect(position.textContent).toBe("Slice 2 of 3");

    // The slider: its arrows move the slice, never the case.
    const slider = screen.getByRole("slider", { name: "Slice" });
    expect(slider.getAttribute("aria-valuetext")).toBe("Slice 2 of 3");
    fireEvent.keyDown(slider, { key: "ArrowRight" });
    expect(position.textContent).toBe("Slice 3 of 3");
    fireEvent.change(slider, { target: { value: "1" } });
    expect(position.textContent).toBe("Slice 1 of 3");
    fireEvent.click(screen.getByRole("button", { name: /Back to this case's slice/ }));
    expect(position.textContent).toBe("Slice 2 of 3");
    fireEvent.click(within(answer).getByRole("button", { name: "from slice 3 (instance 30)" }));
    expect(position.textContent).toBe("Slice 3 of 3");
    expect(router.state.location.pathname).toBe(`/cases/${current.id}`);
  });

  it("hides the slices' answers and the series answer on a blind read, keeping the rule", async () => {
    current = slicePrediction(2, { blind_read: true, answer_hidden: true, probabilities: null, predicted_label: null, confidence: null, uncertainty: null });
    renderCase();
    await screen.findByTestId("slice-position");
    fireEvent.keyDown(window, { key: "ArrowDown" });
    expect(screen.getByTestId("slice-position").textContent).toBe("Slice 3 of 3");
    expect(screen.getByTestId("slice-prediction").textContent).not.toMatch(/covid|%/);
    expect(screen.getByTestId("series-answer").textContent).not.toMatch(/covid|%/);
    expect(screen.getByTestId("series-answer").textContent).toContain("answer hidden");
    expect(screen.getByTestId("series-rule").textContent).toBe(`Rule: ${RULE}`);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(images.filter((url) => url.includes("/heatmap"))).toEqual([]);
  });

  it("is not shown for a single-instance series, nor when the server has no series route", async () => {
    series = seriesOf([2], []);
    renderCase();
    await screen.findByLabelText("Preset");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen.queryByTestId("series-navigator")).toBeNull();
    cleanup();

    series = null; // 404
    renderCase();
    await screen.findByLabelText("Preset");
    await waitFor(() => expect(vi.mocked(fetch).mock.calls.some(([request]) => (request as Request).url.includes("/api/v1/series/"))).toBe(true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(screen.queryByTestId("series-navigator")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
  });
});
