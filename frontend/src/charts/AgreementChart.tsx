// Agreement with the clinicians over time, one line per site and model version, with its Wilson 95%
// interval as a band (and as an error bar on each point, so that a single bucket still shows it).
// x: the cases the version has answered at that site, at the end of each bucket.
import { AxisBottom, AxisLeft } from "@visx/axis";
import { Group } from "@visx/group";
import { scaleLinear } from "@visx/scale";
import { Area, Line, LinePath } from "@visx/shape";
import { useId } from "react";
import type { MetricsSeries } from "../api/client";
import { AXIS, palette, TICK_LABEL } from "./theme";

export interface AgreementPoint {
  cases: number;
  rate: number | null;
  low: number | null;
  high: number | null;
  n: number;
}

export interface AgreementLine {
  key: string;
  label: string;
  color: string;
  points: AgreementPoint[];
}

/** The series of GET /tasks/{task}/metrics as lines: cumulative cases on x. */
export function agreementLines(series: MetricsSeries[]): AgreementLine[] {
  return series.map((one, index) => {
    let cases = 0;
    return {
      key: `${one.site ?? "*"}|${one.model_version}`,
      label: `${one.site ?? "no site"} · ${one.model_version}`,
      color: palette(index),
      points: one.points.map((point) => {
        cases += point.predictions;
        return { cases, rate: point.agreement.rate, low: point.agreement.low, high: point.agreement.high, n: point.agreement.n };
      }),
    };
  });
}

const WIDTH = 760;
const HEIGHT = 280;
const MARGIN = { top: 16, right: 24, bottom: 52, left: 56 };

const known = (point: AgreementPoint) => point.n > 0 && point.rate !== null;

/** `target`: a dashed line at that agreement (none: agreement is descriptive only). */
export function AgreementChart({ lines, target }: { lines: AgreementLine[]; target?: number }) {
  const titleId = useId();
  const innerWidth = WIDTH - MARGIN.left - MARGIN.right;
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const maxCases = Math.max(1, ...lines.flatMap((line) => line.points.map((point) => point.cases)));
  const x = scaleLinear<number>({ domain: [0, maxCases], range: [0, innerWidth], nice: true });
  const y = scaleLinear<number>({ domain: [0, 1], range: [innerHeight, 0] });
  const summary = lines
    .map((line) => {
      const last = [...line.points].reverse().find(known);
      return last ? `${line.label}: ${(last.rate! * 100).toFixed(0)}% of ${last.n} in the last bucket` : `${line.label}: no verdicts yet`;
    })
    .join("; ");
  return (
    <figure className="chart" data-testid="agreement-chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={titleId} width="100%">
        <title id={titleId}>{`Agreement with the clinicians over the cases, 95% interval as a band. ${summary}.`}</title>
        <Group left={MARGIN.left} top={MARGIN.top}>
          {y.ticks(5).map((tick) => (
            <Line key={tick} from={{ x: 0, y: y(tick) }} to={{ x: innerWidth, y: y(tick) }} stroke={AXIS.grid} />
          ))}
          {lines.map((line) => (
            <Group key={line.key} data-series={line.key}>
              <Area<AgreementPoint>
                data={line.points}
                defined={known}
                x={(point) => x(point.cases)}
                y0={(point) => y(point.low ?? 0)}
                y1={(point) => y(point.high ?? 1)}
                fill={line.color}
                fillOpacity={0.2}
                className="ci-band"
              />
              <LinePath<AgreementPoint> data={line.points} defined={known} x={(point) => x(point.cases)} y={(point) => y(point.rate ?? 0)} stroke={line.color} strokeWidth={2} />
              {line.points.filter(known).map((point) => (
                <g key={point.cases} className="ci-point">
                  <Line from={{ x: x(point.cases), y: y(point.low ?? 0) }} to={{ x: x(point.cases), y: y(point.high ?? 1) }} stroke={line.color} strokeWidth={1.5} />
                  <circle cx={x(point.cases)} cy={y(point.rate ?? 0)} r={4} fill={line.color}>
                    <title>{`${line.label}, ${point.cases} cases: ${(point.rate! * 100).toFixed(1)}% (95% CI ${((point.low ?? 0) * 100).toFixed(1)}–${((point.high ?? 1) * 100).toFixed(1)}%, n=${point.n})`}</title>
                  </circle>
                </g>
              ))}
            </Group>
          ))}
          {target !== undefined && (
            <>
              <Line from={{ x: 0, y: y(target) }} to={{ x: innerWidth, y: y(target) }} stroke={AXIS.target} strokeDasharray="6 4" strokeWidth={1.5} />
              <text x={innerWidth - 4} y={y(target) - 6} textAnchor="end" fill={AXIS.target} fontSize={12}>
                target {(target * 100).toFixed(0)}%
              </text>
            </>
          )}
          <AxisLeft scale={y} numTicks={5} tickFormat={(value) => `${Math.round(Number(value) * 100)}%`} stroke={AXIS.line} tickStroke={AXIS.line} tickLabelProps={TICK_LABEL.left} label="Agreement" labelProps={TICK_LABEL.label} labelOffset={34} />
          <AxisBottom top={innerHeight} scale={x} tickValues={x.ticks(6).filter(Number.isInteger)} tickFormat={(value) => String(value)} stroke={AXIS.line} tickStroke={AXIS.line} tickLabelProps={TICK_LABEL.bottom} label="Cases answered" labelProps={TICK_LABEL.label} labelOffset={10} />
        </Group>
      </svg>
      <figcaption>
        <ul className="legend">
          {lines.map((line) => (
            <li key={line.key}>
              <span className="swatch" style={{ background: line.color }} aria-hidden="true" /> {line.label}
            </li>
          ))}
          <li>
            <span className="swatch swatch-band" aria-hidden="true" /> 95% interval (Wilson)
          </li>
        </ul>
      </figcaption>
    </figure>
  );
}
