// A uPlot time-series chart as a Preact component: created once per mount, given new data on each render, resized
// with its container. uPlot draws on a canvas, so the chart also gets a text summary for screen readers.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "./lib.ts";

export interface ChartSeries {
  label: string;
  values: number[];
  color: string;
  /** Drawn against the right-hand axis. */
  right?: boolean;
}

/**
 * Points come only for buckets that had traffic; the chart fills every other `stepMs` bucket from `fromMs` to
 * `toMs` with zero, so a quiet hour shows as zero rather than as a line drawn across it.
 */
export function fillBuckets(times: number[], series: ChartSeries[], fromMs: number, toMs: number, stepMs: number): { times: number[]; series: ChartSeries[] } {
  const start = Math.floor(fromMs / stepMs) * stepMs;
  const filled: number[] = [];
  for (let t = start; t <= toMs && filled.length < 2000; t += stepMs) filled.push(t);
  const at = new Map(times.map((t, i) => [t, i]));
  return { times: filled, series: series.map((s) => ({ ...s, values: filled.map((t) => (at.has(t) ? s.values[at.get(t)!]! : 0)) })) };
}

const axisValue = (value: number) => (value === 0 ? "0" : Math.abs(value) >= 1000 ? `${Math.round(value / 100) / 10}k` : Number(value.toPrecision(2)).toString());

export function TimeChart(props: { title: string; times: number[]; series: ChartSeries[]; fromMs: number; toMs: number; stepMs: number; height?: number }) {
  const { title, height = 220 } = props;
  const { times, series } = fillBuckets(props.times, props.series, props.fromMs, props.toMs, props.stepMs);
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data: uPlot.AlignedData = [times.map((t) => t / 1000), ...series.map((s) => s.values)];
  const shape = series.map((s) => `${s.label}${s.right ? ">" : ""}`).join("|");

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const width = () => Math.max(240, element.clientWidth);
    const options: uPlot.Options = {
      width: width(),
      height,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.right ? "right" : "y", points: { show: false } }))],
      axes: [
        {},
        { scale: "y", values: (_u: uPlot, splits: number[]) => splits.map(axisValue) },
        ...(series.some((s) => s.right) ? [{ scale: "right", side: 1, grid: { show: false }, values: (_u: uPlot, splits: number[]) => splits.map(axisValue) }] : []),
      ],
      // Counts and money start at zero; an all-zero window still gets a visible axis.
      scales: { x: { time: true }, y: { range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { live: false },
    };
    plot.current = new uPlot(options, data, element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: width(), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
    // The chart is rebuilt only when its series change shape; new points go through setData below.
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  const summary = series.map((s) => `${s.label}: total ${Math.round(s.values.reduce((a, b) => a + b, 0) * 1e4) / 1e4}`).join("; ");
  return html`<figure class="chart">
    <figcaption>${title}</figcaption>
    <div ref=${box} role="img" aria-label=${`${title}. ${summary}`}></div>
  </figure>`;
}
