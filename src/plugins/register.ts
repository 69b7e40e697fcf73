// Makes `import ... from "sluice/plugin"` resolve inside plugin files, also in the compiled binary (which has no
// node_modules to look in): a virtual module whose exports are the plugin API.
import * as api from "./api.ts";

let registered = false;

export function registerPluginApi(): void {
  if (registered) return;
  registered = true;
  Bun.plugin({
    name: "sluice-plugin-api",
    setup(build) {
      build.module("sluice/plugin", () => ({ exports: { ...api }, loader: "object" }));
    },
  });
}
