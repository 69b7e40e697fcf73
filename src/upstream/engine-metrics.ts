// An engine's own queue depth, from its Prometheus text: vLLM's `vllm:num_requests_waiting` and SGLang's
// `sglang:num_queue_reqs` (summed over their label sets, e.g. one series per model or engine).

const QUEUE_METRICS = ["vllm:num_requests_waiting", "sglang:num_queue_reqs", "tgi_queue_size"];

/** Requests waiting in the engine's queue, or undefined when the text has none of the known metrics. */
export function engineQueueDepth(text: string): number | undefined {
  let total: number | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const name = QUEUE_METRICS.find((metric) => line.startsWith(metric) && (line[metric.length] === "{" || line[metric.length] === " "));
    if (!name) continue;
    // `name{labels} value [timestamp]`
    const rest = line[name.length] === "{" ? line.slice(line.indexOf("}") + 1) : line.slice(name.length);
    const value = Number(rest.trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}
