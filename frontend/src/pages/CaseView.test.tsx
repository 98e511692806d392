// The case view's AI answer: next to the model version, how it was routed (the site's own version or
// the task's default), and the decision threshold in force with where it came from.
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Prediction } from "../api/client";
import { TASK } from "../test/fixtures";
import { AiAnswer } from "./CaseView";

const prediction = (overrides: Partial<Prediction> = {}): Prediction => ({
  id: "5d0c8e7a-1b2c-4d3e-8f90-a1b2c3d4e5f6",
  image_id: "0b8f1f7e-3c39-4d53-9a55-0f5b9d3e2c11",
  task: TASK,
  model_version: `${TASK}.v3`,
  probabilities: { normal: 0.66, pneumonia: 0.34 },
  predicted_label: "pneumonia",
  confidence: 0.66,
  uncertainty: 0.92,
  status: "pending_review",
  autonomy_level: "supervised",
  finalized_by: null,
  audit_sample: false,
  site: "ward-b",
  routing: "site",
  decision_threshold: 0.31,
  operating_point: "site",
  accession_number: null,
  external_id: null,
  inference_ms: 30,
  created_at: "2026-11-27T09:30:01Z",
  ...overrides,
});

afterEach(cleanup);

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
});
