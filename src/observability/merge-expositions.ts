// /metrics of several workers as one exposition: counters and histograms (buckets, _sum, _count) are summed
// series by series; gauges whose sum means something (requests in flight, rows pending, backend load) are summed
// too; any other gauge (a backend's health or breaker as one worker sees it, a collector's own) keeps one series
// per worker, with a `worker` label.

const SUMMED_GAUGES = new Set(["sluice_in_flight_requests", "sluice_ledger_pending", "sluice_backend_load", "sluice_concurrency_in_use", "sluice_concurrency_waiting"]);

interface Family {
  name: string;
  help: string | undefined;
  type: string;
  /** Series by their name and labels, in first-seen order. */
  samples: Map<string, number>;
}

/**
 * `perWorker[i]` is worker i's exposition (undefined: it did not answer); `shared` holds series of no one worker
 * (the supervisor's own, the limit slots it owns), taken as they are.
 */
export function mergeExpositions(perWorker: readonly (string | undefined)[], shared = ""): string {
  const families = new Map<string, Family>();
  [...perWorker, shared].forEach((text, worker) => {
    if (text === undefined) return;
    const own = worker === perWorker.length;
    let family: Family | undefined;
    for (const line of text.split("\n")) {
      if (!line) continue;
      if (line.startsWith("# HELP ")) {
        const [name, help] = splitFirst(line.slice(7));
        family = familyOf(families, name);
        family.help ??= help;
        continue;
      }
      if (line.startsWith("# TYPE ")) {
        const [name, type] = splitFirst(line.slice(7));
        family = familyOf(families, name);
        family.type = type;
        continue;
      }
      if (line.startsWith("#")) continue;
      const sample = parseSample(line);
      if (!sample) continue;
      // A sample belongs to the family declared last (a histogram's _bucket, _sum and _count lines too).
      const owner = family && sample.name.startsWith(family.name) ? family : familyOf(families, sample.name);
      const labelled = !own && owner.type === "gauge" && !SUMMED_GAUGES.has(owner.name);
      const series = labelled ? withLabel(sample.name, sample.labels, `worker="${worker}"`) : sample.name + sample.labels;
      owner.samples.set(series, (owner.samples.get(series) ?? 0) + sample.value);
    }
  });
  const out: string[] = [];
  for (const [name, family] of families) {
    if (family.help !== undefined) out.push(`# HELP ${name} ${family.help}`);
    out.push(`# TYPE ${name} ${family.type}`);
    for (const [series, value] of family.samples) out.push(`${series} ${formatValue(value)}`);
  }
  return `${out.join("\n")}\n`;
}

function familyOf(families: Map<string, Family>, name: string): Family {
  let family = families.get(name);
  if (!family) families.set(name, (family = { name, help: undefined, type: "untyped", samples: new Map() }));
  return family;
}

function splitFirst(text: string): [string, string] {
  const space = text.indexOf(" ");
  return space === -1 ? [text, ""] : [text.slice(0, space), text.slice(space + 1)];
}

/** `name{labels} value` or `name value`; label values may hold spaces and escaped quotes. */
function parseSample(line: string): { name: string; labels: string; value: number } | undefined {
  const brace = line.indexOf("{");
  const firstSpace = line.indexOf(" ");
  let name: string;
  let labels = "";
  let rest: string;
  if (brace !== -1 && (firstSpace === -1 || brace < firstSpace)) {
    const close = labelsEnd(line, brace);
    if (close === -1) return undefined;
    name = line.slice(0, brace);
    labels = line.slice(brace, close + 1);
    rest = line.slice(close + 1).trim();
  } else {
    if (firstSpace === -1) return undefined;
    name = line.slice(0, firstSpace);
    rest = line.slice(firstSpace + 1).trim();
  }
  const value = Number(rest.split(" ")[0]);
  return Number.isNaN(value) && rest.split(" ")[0] !== "NaN" ? undefined : { name, labels, value };
}

/** The index of the `}` closing the labels opened at `open`, skipping quoted values. */
function labelsEnd(line: string, open: number): number {
  let quoted = false;
  for (let i = open + 1; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === "}") return i;
  }
  return -1;
}

function withLabel(name: string, labels: string, label: string): string {
  return labels ? `${name}{${label},${labels.slice(1)}` : `${name}{${label}}`;
}

function formatValue(value: number): string {
  if (Number.isInteger(value)) return String(value);
  return String(Math.round(value * 1e9) / 1e9);
}
