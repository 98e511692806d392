// The reliability diagram: per confidence bin, how often the clinicians agreed (bars, and a dot at the
// bin's mean confidence) against the diagonal of perfect calibration.
import { AxisBottom, AxisLeft } from "@visx/axis";
import { Group } from "@visx/group";
import { scaleLinear } from "@visx/scale";
import { Bar, Line } from "@visx/shape";
import { useId } from "react";
import type { Calibration } from "../api/client";
import { AXIS, palette, TICK_LABEL } from "./theme";

const SIZE = 340;
const MARGIN = { top: 16, right: 16, bottom: 52, left: 56 };

export function ReliabilityDiagram({ bins }: { bins: Calibration["bins"] }) {
  const titleId = useId();
  const inner = SIZE - MARGIN.left - MARGIN.right;
  const innerHeight = SIZE - MARGIN.top - MARGIN.bottom;
  const filled = bins.filter((bin) => bin.n > 0 && bin.accuracy !== null && bin.confidence_mean !== null);
  // Binary tasks answer with at least 50% confidence: the confidence axis starts where the cases are;
  // agreement keeps its whole range (a bin can be mostly wrong).
  const from = Math.min(0.5, ...filled.map((bin) => bin.low));
  const x = scaleLinear<number>({ domain: [from, 1], range: [0, inner] });
  const y = scaleLinear<number>({ domain: [0, 1], range: [innerHeight, 0] });
  const color = palette(0);
  const summary = filled
    .map((bin) => `${(bin.low * 100).toFixed(0)}–${(bin.high * 100).toFixed(0)}%: agreed ${(bin.accuracy! * 100).toFixed(0)}% of ${bin.n}`)
    .join("; ");
  return (
    <figure className="chart" data-testid="reliability-diagram">
      <svg viewBox={`0 0 ${SIZE} ${SIZE}`} role="img" aria-labelledby={titleId} width="100%" style={{ maxWidth: SIZE, margin: "0 auto" }}>
        <title id={titleId}>{`Reliability diagram: agreement per confidence bin against perfect calibration. ${summary || "No reviewed cases yet"}.`}</title>
        <Group left={MARGIN.left} top={MARGIN.top}>
          {filled.map((bin) => {
            const left = x(Math.max(bin.low, from));
            const top = y(bin.accuracy!);
            return (
              <g key={bin.low} className="reliability-bin">
                <Bar x={left + 1} y={top} width={Math.max(0, x(bin.high) - left - 2)} height={innerHeight - top} fill={color} fillOpacity={0.35} />
                <circle cx={x(bin.confidence_mean!)} cy={top} r={4} fill={color}>
                  <title>{`Confidence ${(bin.low * 100).toFixed(0)}–${(bin.high * 100).toFixed(0)}% (mean ${(bin.confidence_mean! * 100).toFixed(1)}%): agreed ${(bin.accuracy! * 100).toFixed(1)}%, n=${bin.n}`}</title>
                </circle>
                <text x={(left + x(bin.high)) / 2} y={top > 20 ? top - 8 : top + 16} textAnchor="middle" fill={AXIS.text} fontSize={11}>
                  {bin.n}
                </text>
              </g>
            );
          })}
          <Line from={{ x: x(from), y: y(from) }} to={{ x: x(1), y: y(1) }} stroke={AXIS.diagonal} strokeDasharray="4 4" />
          <AxisLeft scale={y} numTicks={5} tickFormat={(value) => `${Math.round(Number(value) * 100)}%`} stroke={AXIS.line} tickStroke={AXIS.line} tickLabelProps={TICK_LABEL.left} label="Agreed" labelProps={TICK_LABEL.label} labelOffset={34} />
          <AxisBottom top={innerHeight} scale={x} numTicks={5} tickFormat={(value) => `${Math.round(Number(value) * 100)}%`} stroke={AXIS.line} tickStroke={AXIS.line} tickLabelProps={TICK_LABEL.bottom} label="Confidence" labelProps={TICK_LABEL.label} labelOffset={10} />
        </Group>
      </svg>
      <figcaption className="muted small">Bars: share agreed per 10% confidence bin (its case count above); dot: the bin's mean confidence; dashed: perfect calibration.</figcaption>
    </figure>
  );
}
