// /metrics of several workers merged into one exposition (src/observability/merge-expositions.ts).
import { describe, expect, test } from "bun:test";
import { mergeExpositions } from "../../src/observability/merge-expositions.ts";
import { Metrics } from "../../src/observability/metrics.ts";

function worker(requests: number, seconds: number, inFlight: number, health: "ready" | "unavailable"): string {
  const metrics = new Metrics();
  const series = metrics.series("chat", "m", "b");
  for (let i = 0; i < requests; i++) series.observe(200, seconds, undefined, 10, 5);
  series.observe(429, 0.001, undefined);
  metrics.inFlight = inFlight;
  metrics.setHealth("b", health);
  return metrics.render();
}

describe("merged /metrics", () => {
  const merged = mergeExpositions([worker(3, 0.2, 1, "ready"), worker(2, 3, 2, "unavailable")], "# TYPE sluice_workers gauge\nsluice_workers 2\n");

  test("counters and histogram series are summed", () => {
    expect(merged).toContain('sluice_requests_total{route="chat",model="m",backend="b",status="200"} 5');
    expect(merged).toContain('sluice_requests_total{route="chat",model="m",backend="b",status="429"} 2');
    expect(merged).toContain('sluice_tokens_total{route="chat",model="m",backend="b",kind="prompt"} 50');
    expect(merged).toContain('sluice_request_duration_seconds_bucket{route="chat",model="m",backend="b",le="0.25"} 5'); // 3 + 1 + 1 fast 429s
    expect(merged).toContain('sluice_request_duration_seconds_bucket{route="chat",model="m",backend="b",le="+Inf"} 7');
    expect(merged).toContain('sluice_request_duration_seconds_count{route="chat",model="m",backend="b"} 7');
    expect(merged).toContain('sluice_request_duration_seconds_sum{route="chat",model="m",backend="b"} 6.602');
  });

  test("in-flight gauges are summed; a backend's health is one series per worker", () => {
    expect(merged).toMatch(/^sluice_in_flight_requests 3$/m);
    expect(merged).toContain('sluice_backend_health{worker="0",backend="b"} 1');
    expect(merged).toContain('sluice_backend_health{worker="1",backend="b"} 0');
    expect(merged).toMatch(/^sluice_workers 2$/m);
  });

  test("each family once, its HELP and TYPE before its samples", () => {
    const lines = merged.trimEnd().split("\n");
    const types = lines.filter((line) => line.startsWith("# TYPE "));
    expect(new Set(types).size).toBe(types.length);
    let family = "";
    for (const line of lines) {
      if (line.startsWith("# TYPE ")) family = line.split(" ")[2]!;
      else if (!line.startsWith("#")) expect(line.startsWith(family)).toBe(true);
    }
  });

  test("label values with spaces, braces and escaped quotes survive", () => {
    const text = '# TYPE x counter\nx{a="s p {a}",b="q\\"}"} 2\n';
    expect(mergeExpositions([text, text])).toContain('x{a="s p {a}",b="q\\"}"} 4');
  });
});
