// The alert banner: open alerts on every screen, acknowledged by a clinician or an administrator.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Alert } from "../api/client";
import { alerts, apiError, json } from "../test/fixtures";
import { AlertBanner } from "./AlertBanner";

let open: Alert[];
let posts: string[];
let queries: URLSearchParams[];

beforeEach(() => {
  open = [...alerts];
  posts = [];
  queries = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      const acknowledge = url.pathname.match(/^\/api\/v1\/alerts\/([^/]+)\/acknowledge$/);
      if (request.method === "POST" && acknowledge) {
        const id = acknowledge[1]!;
        posts.push(id);
        const alert = open.find((one) => one.id === id)!;
        open = open.filter((one) => one.id !== id);
        return json({ ...alert, acknowledged_at: "2026-11-27T10:00:00Z", acknowledged_by: "dr.lee" });
      }
      if (url.pathname === "/api/v1/alerts") {
        queries.push(url.searchParams);
        return json(open);
      }
      return apiError(404, "not_found", "no stub");
    }),
  );
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function renderBanner(canAcknowledge = true) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const router = createMemoryRouter([{ path: "/", element: <AlertBanner canAcknowledge={canAcknowledge} /> }]);
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
}

describe("AlertBanner", () => {
  it("shows the open alerts as an alert, with a link to their evidence", async () => {
    renderBanner();
    const banner = await screen.findByRole("alert");
    expect(queries[0]!.get("open_only")).toBe("true");
    expect(banner.textContent).toContain("2 open alerts");
    expect(banner.textContent).toContain("Input drift");
    expect(banner.textContent).toContain("PSI 0.31 above 0.25");
    expect(banner.textContent).toContain("all sites");
    const links = within(banner).getAllByRole("link", { name: "Evidence" });
    expect(links[0]!.getAttribute("href")).toBe("/trust?task=chest-xray-pneumonia&site=ward-b");
  });

  it("acknowledges one alert, and goes away when none is left", async () => {
    renderBanner();
    const banner = await screen.findByRole("alert");
    const buttons = within(banner).getAllByRole("button", { name: "Acknowledge" });
    fireEvent.click(buttons[0]!);
    await waitFor(() => expect(posts).toEqual([alerts[0]!.id]));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("1 open alert:"));
    fireEvent.click(within(screen.getByRole("alert")).getByRole("button", { name: "Acknowledge" }));
    await waitFor(() => expect(screen.queryByRole("alert")).toBeNull());
    expect(posts).toEqual(alerts.map((alert) => alert.id));
  });

  it("shows nothing without open alerts", async () => {
    open = [];
    renderBanner();
    await waitFor(() => expect(queries).toHaveLength(1));
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("has no Acknowledge for a user who may not review", async () => {
    renderBanner(false);
    const banner = await screen.findByRole("alert");
    expect(within(banner).queryByRole("button")).toBeNull();
  });
});
