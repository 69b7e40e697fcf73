// An engine's own queue depth, from its Prometheus text: vLLM's `vllm:num_requests_waiting` and SGLang's
// `sglang:num_queue_reqs` (summed over their label sets, e.g. one series per model or engine).

const QUEUE_METRICS = ["vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size"];

/** Requests waiting in the engine's queue, or undefined when the text has none of the known metrics. */
export function engineQueueDepth(text: string): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const name = QUEUE_METRICS.find((metric) => line.startsWith(metric) && /[{\s]/.test(line[metric.length] ?? ""));
    if (!name) continue;
    // `name{labels} value [timestamp]`
    const rest = line[name.length] === "{" ? line.slice(labelsEnd(line, name.length) + 1) : line.slice(name.length);
    const value = Number(rest.trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/** Index of the `}` closing the label set that opens at `open`; quoted values may hold `}` and escaped quotes. */
function labelsEnd(line: string, open: number): number {
  let quoted = false;
  for (let i = open + 1; i < line.length; i++) {
    const char = line[i];
    if (quoted && char === "\\") i++;
    else if (char === '"') quoted = !quoted;
    else if (char === "}" && !quoted) return i;
  }
  return line.length;
}
