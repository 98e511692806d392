// Chart colours on the app's dark surface (#1f2226); each meets 3:1 (WCAG 1.4.11, graphics) and the
// text colours 4.5:1 or more.
export const AXIS = { line: "#a8b0ba", grid: "#31363d", target: "#f2c46d", text: "#e8eaed", diagonal: "#a8b0ba" };

const COLORS = ["#8cc4ff", "#7fd49a", "#d7a6ff", "#ff9b91", "#f2c46d", "#6fd6d6"];

export function palette(index: number): string {
  return COLORS[index % COLORS.length]!;
}

const base = { fill: AXIS.text, fontSize: 12, fontFamily: "inherit" } as const;
export const TICK_LABEL = {
  left: { ...base, textAnchor: "end", dx: -4, dy: 4 } as const,
  bottom: { ...base, textAnchor: "middle" } as const,
  label: { ...base, fontSize: 13, textAnchor: "middle" } as const,
};
