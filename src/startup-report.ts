// At start-up, one look at every backend: a new user who runs `npm start` with no engine up learns which
// backends are unreachable and how to point sluice at an engine, instead of meeting the first 502.
import type { Snapshot } from "./config/resolve.ts";
import type { HealthMonitor } from "./upstream/health.ts";
import { maskUrl } from "./config/mask-url.ts";
import { log } from "./observability/log.ts";

export async function reportBackends(snapshot: Snapshot, health: HealthMonitor, configFile: string, listenUrl: string): Promise<void> {
  const backends = [...snapshot.backends.values()];
  if (backends.length === 0) {
    log.warn(`backends: none configured, so every model request is a 404. Start an engine (vLLM, SGLang, llama.cpp, TGI, Ollama) and restart, or add backends to ${configFile}`);
    return;
  }
  const statuses = await Promise.all(backends.map(async (backend) => ({ backend, status: await health.status(backend) })));
  const unreachable = statuses.filter(({ status }) => status === "unavailable").map(({ backend }) => `${backend.id} (${maskUrl(backend.baseUrl)})`);
  const loading = statuses.filter(({ status }) => status === "loading").map(({ backend }) => backend.id);
  if (loading.length) log.info(`backends: ${loading.join(", ")} reachable, model still loading`);
  if (!unreachable.length) return;
  log.warn(
    `backends: ${unreachable.join(", ")} not reachable; requests for them get 502 until the engine answers. ` +
      `Point sluice at your engine with LOCAL_ENGINE_URL=http://host:port/v1 (and LOCAL_ENGINE_MODEL) for the default config, or backends[].url in ${configFile}; ` +
      `${listenUrl}/readyz says when a backend is ready`,
  );
}
