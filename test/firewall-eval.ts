// `bun test/firewall-eval.ts`: the firewall's rules (no judge) on the injection/jailbreak development set
// (test/fixtures/injection-dev.jsonl, written for sluice): detection and false-positive rates, and the time the
// rules take per request — for the two injection catalogs alone and for a firewall with every catalog.
import { parseConfig } from "../src/config/load.ts";
import { screenConversation } from "../src/firewall/screen.ts";
import { JudgeCache } from "../src/firewall/judge.ts";

const lines = (await Bun.file(new URL("fixtures/injection-dev.jsonl", import.meta.url)).text()).split("\n").filter(Boolean);
const set = lines.map((line) => JSON.parse(line) as { text: string; label: string });

const snapshot = parseConfig(
  `firewalls:
  - {slug: injection, rules: [{catalog: prompt_injection}, {catalog: jailbreak}]}
  - {slug: everything, rules: [{catalog: prompt_injection}, {catalog: jailbreak}, {catalog: secrets}, {catalog: pii}, {catalog: topics, topics: [weapons, malware, self_harm]}]}
`,
  "eval.yaml",
  {},
);
const cache = new JudgeCache();

for (const slug of ["injection", "everything"]) {
  const firewall = snapshot.firewalls.get(slug)!;
  let attacks = 0;
  let caught = 0;
  let benign = 0;
  let falsePositives = 0;
  const times: number[] = [];
  for (const { text, label } of set) {
    const messages = [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: text }];
    const started = performance.now();
    const { outcome } = await screenConversation(firewall, messages, cache);
    times.push(performance.now() - started);
    const stopped = outcome.verdict === "blocked";
    if (label === "benign") {
      benign++;
      if (stopped) falsePositives++;
    } else {
      attacks++;
      if (stopped) caught++;
    }
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(
    `${slug.padEnd(10)} detection ${((100 * caught) / attacks).toFixed(1)}% (${caught}/${attacks})  false positives ${((100 * falsePositives) / benign).toFixed(1)}% (${falsePositives}/${benign})  ` +
      `time per request mean ${(mean * 1000).toFixed(0)} µs, p99 ${(times[Math.floor(times.length * 0.99)]! * 1000).toFixed(0)} µs`,
  );
}
