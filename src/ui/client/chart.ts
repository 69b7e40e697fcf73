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

/** `fromMs`/`toMs` fix the x axis to the window asked for, so one point does not stretch it over years. */
export function TimeChart({ title, times, series, fromMs, toMs, height = 220 }: { title: string; times: number[]; series: ChartSeries[]; fromMs: number; toMs: number; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const range = useRef<[number, number]>([fromMs, toMs]);
  range.current = [fromMs, toMs];
  const data: uPlot.AlignedData = [times.map((t) => t / 1000), ...series.map((s) => s.values)];
  const shape = series.map((s) => `${s.label}${s.right ? ">" : ""}`).join("|");

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const width = () => Math.max(240, element.clientWidth);
    const options: uPlot.Options = {
      width: width(),
      height,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, scale: s.right ? "right" : "y", points: { show: times.length < 2 } }))],
      axes: [{}, { scale: "y" }, ...(series.some((s) => s.right) ? [{ scale: "right", side: 1, grid: { show: false } }] : [])],
      scales: { x: { time: true, range: () => [range.current[0] / 1000, range.current[1] / 1000] } },
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
