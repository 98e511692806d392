// The verdict flow: each way of giving a verdict (buttons and keys) sends the right request, and a blind
// read (the AI's answer hidden) sends the label read. The network is stubbed at fetch; everything above
// it (the generated client, the CSRF header, the query cache) is the real code.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setCsrfToken, type Prediction } from "../api/client";
import { hiddenPrediction, prediction as fixturePrediction } from "../test/fixtures";
import { verdictBody, VerdictPanel } from "./VerdictPanel";

const prediction: Prediction = fixturePrediction();
const hidden: Prediction = hiddenPrediction();

let fetchMock: ReturnType<typeof vi.fn>;

function verdictResponse(body: Record<string, unknown>, status = 201) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

beforeEach(() => {
  fetchMock = vi.fn(async (request: Request) => {
    const body = request.method === "POST" ? await request.clone().json() : {};
    return verdictResponse({
      id: "v1",
      prediction_id: prediction.id,
      sequence: 1,
      reviewer: "dr.lee",
      created_at: "2026-11-27T09:31:00Z",
      label: null,
      notes: null,
      ...body,
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  setCsrfToken("csrf-123");
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  setCsrfToken(null);
});

function renderPanel(onDone = vi.fn(), shown: Prediction = prediction) {
  const client = new QueryClient({ defaultOptions: { mutations: { retry: false } } });
  render(
    <QueryClientProvider client={client}>
      <VerdictPanel prediction={shown} labels={["normal", "pneumonia"]} onDone={onDone} />
    </QueryClientProvider>,
  );
  return onDone;
}

async function sentRequest(): Promise<{ url: string; method: string; csrf: string | null; body: unknown }> {
  await waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(1));
  const request = fetchMock.mock.calls[0]![0] as Request;
  return {
    url: new URL(request.url).pathname,
    method: request.method,
    csrf: request.headers.get("X-CSRF-Token"),
    body: await request.clone().json(),
  };
}

const FEEDBACK_URL = `/api/v1/predictions/${prediction.id}/feedback`;

describe("VerdictPanel", () => {
  it("A agrees, with the CSRF header", async () => {
    const onDone = renderPanel();
    fireEvent.keyDown(window, { key: "a" });
    expect(await sentRequest()).toEqual({
      url: FEEDBACK_URL,
      method: "POST",
      csrf: "csrf-123",
      body: { verdict: "agree", notes: null },
    });
    await waitFor(() => expect(onDone).toHaveBeenCalledWith({ verdict: "agree" }));
  });

  it("the number of another label corrects to it", async () => {
    renderPanel();
    fireEvent.keyDown(window, { key: "1" });
    expect((await sentRequest()).body).toEqual({ verdict: "disagree", label: "normal", notes: null });
  });

  it("the number of the AI's own label agrees", async () => {
    renderPanel();
    fireEvent.keyDown(window, { key: "2" });
    expect((await sentRequest()).body).toEqual({ verdict: "agree", notes: null });
  });

  it("a number past the labels does nothing", async () => {
    renderPanel();
    fireEvent.keyDown(window, { key: "7" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it("U marks the case unreadable", async () => {
    renderPanel();
    fireEvent.keyDown(window, { key: "u" });
    expect((await sentRequest()).body).toEqual({ verdict: "unreadable", notes: null });
  });

  it("the Correct button sends the label and the notes", async () => {
    renderPanel();
    fireEvent.change(screen.getByLabelText(/Notes/), { target: { value: "  Old scarring, no consolidation. " } });
    fireEvent.click(screen.getByRole("button", { name: /Correct to normal/ }));
    expect((await sentRequest()).body).toEqual({
      verdict: "disagree",
      label: "normal",
      notes: "Old scarring, no consolidation.",
    });
  });

  it("keys typed into the notes are text, not shortcuts", async () => {
    renderPanel();
    const notes = screen.getByLabelText(/Notes/);
    notes.focus();
    fireEvent.keyDown(notes, { key: "a" });
    fireEvent.keyDown(notes, { key: "1" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it("shows the API's error message and code", async () => {
    fetchMock.mockImplementation(async () =>
      verdictResponse(
        { error: { code: "invalid_verdict", message: "The label is not one of the task's.", details: {}, request_id: "r1" } },
        422,
      ),
    );
    const onDone = renderPanel();
    fireEvent.click(screen.getByRole("button", { name: /Unreadable/ }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("The label is not one of the task's.");
    expect(alert.textContent).toContain("invalid_verdict");
    expect(onDone).not.toHaveBeenCalled();
  });
});

describe("VerdictPanel on a blind read", () => {
  it("offers one button per label and Unreadable, nothing to agree with and no AI label", () => {
    renderPanel(vi.fn(), hidden);
    expect(screen.getByRole("heading", { name: "Your read" })).toBeTruthy();
    const buttons = screen.getAllByRole("button").map((button) => button.textContent);
    expect(buttons).toEqual(["Read as normal 1", "Read as pneumonia 2", "Unreadable U"]);
    expect(screen.queryByRole("button", { name: /Agree/ })).toBeNull();
    expect(screen.queryByRole("button", { name: /Correct to/ })).toBeNull();
  });

  it("a label's button sends `read` with that label and the notes", async () => {
    const onDone = renderPanel(vi.fn(), hidden);
    fireEvent.change(screen.getByLabelText(/Notes/), { target: { value: "small left effusion" } });
    fireEvent.click(screen.getByRole("button", { name: /Read as normal/ }));
    expect(await sentRequest()).toEqual({
      url: FEEDBACK_URL,
      method: "POST",
      csrf: "csrf-123",
      body: { verdict: "read", label: "normal", notes: "small left effusion" },
    });
    await waitFor(() => expect(onDone).toHaveBeenCalledWith({ verdict: "read", label: "normal" }));
  });

  it("a label's number sends `read` with it, even the label the AI would have given", async () => {
    renderPanel(vi.fn(), hidden);
    fireEvent.keyDown(window, { key: "2" });
    expect((await sentRequest()).body).toEqual({ verdict: "read", label: "pneumonia", notes: null });
  });

  it("A does nothing (there is no answer to agree with); U is unreadable", async () => {
    renderPanel(vi.fn(), hidden);
    fireEvent.keyDown(window, { key: "a" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fetchMock).not.toHaveBeenCalled();
    fireEvent.keyDown(window, { key: "u" });
    expect((await sentRequest()).body).toEqual({ verdict: "unreadable", notes: null });
  });

  it("shows the API's refusal of a verdict that is not a read", async () => {
    fetchMock.mockImplementation(async () =>
      verdictResponse(
        { error: { code: "blind_read_needs_label", message: "This case is read blind: send `read` with the label you see.", details: {}, request_id: "r2" } },
        422,
      ),
    );
    renderPanel(vi.fn(), hidden);
    fireEvent.click(screen.getByRole("button", { name: /Read as pneumonia/ }));
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("blind_read_needs_label");
  });
});

describe("verdictBody", () => {
  it("turns a correction to the predicted label into agreement", () => {
    expect(verdictBody({ verdict: "disagree", label: "pneumonia" }, "pneumonia", "")).toEqual({ verdict: "agree", notes: null });
  });

  it("sends a blind read as `read` with its label, whatever the hidden answer", () => {
    expect(verdictBody({ verdict: "read", label: "normal" }, null, " ")).toEqual({ verdict: "read", label: "normal", notes: null });
  });
});
