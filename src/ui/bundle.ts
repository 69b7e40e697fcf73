// The dashboard's browser code, bundled when the server code that imports this file is bundled: imported
// `with { type: "macro" }`, `dashboardBundle()` runs inside `bun build --compile` (so the compiled binary carries
// the result as a string constant) and inside Bun's runtime transpiler when sluice runs from source (so there is
// no build step to forget). A macro may not call Bun.build (the bundler would wait on itself), so it runs the
// `bun build` CLI, as Bun's own error message advises.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const CLIENT = join(import.meta.dir, "client");

export interface DashboardBundle {
  js: string;
  css: string;
}

export function dashboardBundle(): DashboardBundle {
  const build = Bun.spawnSync([process.execPath, "build", join(CLIENT, "main.ts"), "--target=browser", "--format=esm", "--minify"], { stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`dashboard bundle failed:\n${build.stderr.toString()}`);
  const uplotCss = readFileSync(Bun.resolveSync("uplot/dist/uPlot.min.css", import.meta.dir), "utf8");
  return { js: build.stdout.toString(), css: `${uplotCss}\n${readFileSync(join(CLIENT, "style.css"), "utf8")}` };
}
