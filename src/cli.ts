#!/usr/bin/env bun
// sluice's command line: serve (default), check, openapi, version. See README "Command line".
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { existsSync } from "node:fs";
import { ConfigError, loadConfigFile } from "./config/load.ts";
import { Gateway, type GatewayOptions } from "./gateway.ts";
import type { Snapshot } from "./config/resolve.ts";
import { startServer } from "./server.ts";
import { servesInPlace } from "./upstream/fetch-capacity.ts";
import { joinSupervisor, workerLimits, workerRole, type WorkerRole } from "./workers/worker.ts";
import { planWorkers } from "./workers/plan.ts";
import { Supervisor } from "./workers/supervisor.ts";
import { watchConfig } from "./config/watch.ts";
import { writeDefaultConfig } from "./config/first-run.ts";
import { log } from "./observability/log.ts";
import { openapiDocument } from "./api/openapi.ts";
import pkg from "../package.json" with { type: "json" };
import { KEY_PATTERN, SCOPES, type Scope } from "./auth/key-record.ts";
import { publicKey } from "./api/keys.ts";
import { PluginHost } from "./plugins/host.ts";
import { reportBackends } from "./startup-report.ts";
import { accountsCommand } from "./cli-accounts.ts";

const SHUTDOWN_GRACE_MS = 30_000;

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** `sluice keys create|list|revoke`: the same store the running gateway uses (--config, --data-dir). */
async function keysCommand(options: Options) {
  const snapshot = await loadOrExit(options.config);
  const gateway = await openGateway(snapshot, { dataDir: options.dataDir });
  const [action, id] = options.args;
  const v = options.values;
  const number = (name: string) => {
    const text = v[name];
    if (text === undefined) return null;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) fail(`--${name}: expected a positive number, got '${text}'`);
    return value;
  };
  try {
    if (action === "create") {
      if (typeof v.name !== "string" || !v.name) fail("keys create: --name is required");
      const scopes = typeof v.scopes === "string" ? v.scopes.split(",").map((s) => s.trim()) : undefined;
      const unknown = scopes?.find((scope) => !(SCOPES as readonly string[]).includes(scope));
      if (unknown) fail(`--scopes: unknown scope '${unknown}' (known: ${SCOPES.join(", ")})`);
      if (typeof v.account === "string" && !gateway.accounts.get(v.account)) fail(`--account: no account '${v.account}' (sluice accounts list shows them)`);
      const { key, secret } = await gateway.keys.create({
        name: v.name,
        ...(scopes ? { scopes: scopes as Scope[] } : {}),
        allowed_models: typeof v.models === "string" ? v.models.split(",").map((m) => m.trim()) : null,
        rpm: number("rpm"),
        tpm: number("tpm"),
        max_concurrent: number("max-concurrent"),
        budget_usd_daily: number("budget-daily"),
        budget_usd_monthly: number("budget-monthly"),
        ...(typeof v.account === "string" ? { account_id: v.account } : {}),
      });
      console.log(JSON.stringify(publicKey(key, secret), null, 2));
      console.error("Store the key now: it is shown only once.");
    } else if (action === "list") {
      for (const key of await gateway.keys.list()) {
        const state = key.revoked_at ? "revoked" : key.expires_at && key.expires_at * 1000 < Date.now() ? "expired" : "active";
        console.log(`${key.id}  ${key.prefix}…  ${state.padEnd(7)}  ${key.scopes.join(",").padEnd(28)}  ${key.name}`);
      }
    } else if (action === "revoke") {
      if (!id) fail("keys revoke: give the key id (sluice keys list shows them)");
      const key = await gateway.keys.revoke(id);
      if (!key) fail(`keys revoke: no key with id '${id}'`);
      console.log(`revoked ${key.id} (${key.prefix}…)`);
    } else {
      fail("keys: expected create, list or revoke");
    }
  } finally {
    await gateway.close();
  }
}

/** `sluice accounts …` (cli-accounts.ts) on the gateway's store. */
async function accountsOnStore(options: Options) {
  const gateway = await openGateway(await loadOrExit(options.config), { dataDir: options.dataDir });
  try {
    await accountsCommand(gateway, options.args, options.values, fail);
  } finally {
    await gateway.close();
  }
}

/** A gateway whose store is ready (PostgreSQL: migrated and loaded); exits with the store's message otherwise. */
async function openGateway(snapshot: Snapshot, options: GatewayOptions): Promise<Gateway> {
  const gateway = new Gateway(snapshot, options);
  try {
    await gateway.ready;
  } catch (error) {
    fail((error as Error).message);
  }
  return gateway;
}

const USAGE = `sluice ${pkg.version} — self-hosted OpenAI-compatible LLM gateway

usage:
  sluice [serve] [--config FILE] [--host H] [--port N] [--data-dir DIR] [--plugins DIR]
  sluice check   [--config FILE]    validate the config, print every problem, exit 1 on any
  sluice openapi                    print the OpenAPI 3.1 document
  sluice keys create --name N [--scopes chat,embeddings,models,usage,admin] [--models a,b]
                     [--rpm N] [--tpm N] [--max-concurrent N] [--budget-daily USD] [--budget-monthly USD]
  sluice keys list | revoke ID          (keys create --account ID: the key spends that account's credits)
  sluice accounts create --name N [--credits USD] [--models a,b] [--budget-daily USD] [--budget-monthly USD]
  sluice accounts list | show ID | activate ID | deactivate ID
  sluice accounts credit ID --amount USD [--note TEXT]   (negative takes credit away)
  sluice version

environment: SLUICE_CONFIG, SLUICE_HOST, SLUICE_PORT, SLUICE_DATA_DIR, SLUICE_PLUGINS,
             SLUICE_ADMIN_KEY (an admin key created at start-up if it does not exist)`;

interface Options {
  args: string[];
  values: Record<string, string | boolean | undefined>;
  config: string;
  host?: string;
  port?: number;
  dataDir: string;
  plugins: string;
}

/** Unknown or malformed flags end in one line naming the flag and exit 2, never a stack trace. */
function parseArgsOrExit(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string" },
        host: { type: "string" },
        port: { type: "string" },
        "data-dir": { type: "string" },
        plugins: { type: "string" },
        help: { type: "boolean", short: "h" },
        name: { type: "string" },
        scopes: { type: "string" },
        models: { type: "string" },
        rpm: { type: "string" },
        tpm: { type: "string" },
        "max-concurrent": { type: "string" },
        "budget-daily": { type: "string" },
        "budget-monthly": { type: "string" },
        account: { type: "string" },
        credits: { type: "string" },
        amount: { type: "string" },
        note: { type: "string" },
      },
    });
  } catch (error) {
    // node:util's message goes on about positionals after '--'; its first sentence names the flag.
    fail(`${(error as Error).message.split(/\.\s/)[0]} (sluice --help lists the options)`);
  }
}

function parseOptions(argv: string[]): { command: string; options: Options } {
  const { values, positionals } = parseArgsOrExit(argv);
  if (values.help) return { command: "help", options: {} as Options };
  const env = process.env;
  const portText = values.port ?? env.SLUICE_PORT;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) fail(`--port: expected a port number 0-65535, got '${portText}'`);
  return {
    command: positionals[0] ?? "serve",
    options: {
      args: positionals.slice(1),
      values,
      config: resolve(values.config ?? env.SLUICE_CONFIG ?? "config/sluice.yaml"),
      host: values.host ?? env.SLUICE_HOST,
      port,
      dataDir: resolve(values["data-dir"] ?? env.SLUICE_DATA_DIR ?? "data"),
      plugins: resolve(values.plugins ?? env.SLUICE_PLUGINS ?? "plugins"),
    },
  };
}

/** Neither --config nor SLUICE_CONFIG: the first run may write the default config (first-run.ts). */
function usesDefaultConfigPath(): boolean {
  return !process.argv.some((arg) => arg === "--config" || arg.startsWith("--config=")) && !process.env.SLUICE_CONFIG;
}

function fail(message: string): never {
  console.error(`sluice: ${message}`);
  process.exit(2);
}

async function loadOrExit(file: string, ownPorts: number[] = []) {
  try {
    return await loadConfigFile(file, process.env, ownPorts);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

/** A port in use (or a host that is not this machine's) is one line and exit 2, not a stack trace. */
function listenOrExit<T>(listen: () => T, host: string, port: number): T {
  try {
    return listen();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EADDRINUSE") fail(`cannot listen on ${host}:${port}: the port is in use (stop the other process, or choose another with --port / server.port)`);
    if (code === "EADDRNOTAVAIL" || code === "EACCES") fail(`cannot listen on ${host}:${port}: ${code} (check server.host / --host and server.port / --port)`);
    throw error;
  }
}

/** One server process: the only one, or a worker of the supervisor (src/workers/supervisor.ts). */
async function serve(options: Options, role: WorkerRole | undefined) {
  // Discovery (backends: discover) must never find sluice itself.
  const portOverride = role?.port ?? options.port;
  const ownPorts = portOverride === undefined ? [] : [portOverride];
  const snapshot = await loadOrExit(options.config, ownPorts);
  const host = options.host ?? snapshot.server.host;
  const port = portOverride ?? snapshot.server.port;
  if (snapshot.auth.mode === "none" && !isLoopback(host)) {
    fail(`auth.mode is none but the gateway would listen on ${host}: anyone who can reach it could use every model. Listen on 127.0.0.1 (server.host / --host) or set auth.mode: keys.`);
  }
  const limits = workerLimits(role);
  const gateway = await openGateway(snapshot, { dataDir: options.dataDir, pluginsDir: options.plugins, ...(limits ? { limits } : {}) });
  await gateway.plugins.loadAll();
  gateway.plugins.watch();
  const adminSecret = process.env.SLUICE_ADMIN_KEY;
  if (adminSecret) {
    if (!KEY_PATTERN.test(adminSecret)) fail("SLUICE_ADMIN_KEY must look like inf_ followed by at least 32 letters and digits (sluice keys create prints one)");
    await gateway.keys.ensure(adminSecret, { name: "admin (SLUICE_ADMIN_KEY)", scopes: ["admin"] });
  }
  const server = listenOrExit(() => startServer(gateway, host, port, { reusePort: (role?.count ?? 1) > 1 }), host, port);
  gateway.health.start();
  ownPorts.push(server.port!);
  if (role) joinSupervisor(role, gateway, server.port!);
  const watcher = watchConfig(options.config, () => loadConfigFile(options.config, process.env, ownPorts), () => gateway.snapshot, (next) => gateway.replaceSnapshot(next));
  const worker = role && role.count > 1 ? `worker ${role.index} ` : "";
  log.info(`sluice ${pkg.version} ${worker}listening on http://${server.hostname}:${server.port} (config ${options.config}, ${snapshot.backends.size} backends)`);
  void reportBackends(snapshot, gateway.health, options.config, `http://${server.hostname}:${server.port}`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: finishing in-flight requests (up to ${SHUTDOWN_GRACE_MS / 1000} s)`);
    watcher.close();
    gateway.health.stop();
    // Long streams must not hold the process forever: after the grace period open connections are closed.
    const grace = setTimeout(() => void server.stop(true), SHUTDOWN_GRACE_MS);
    await server.stop(false);
    clearTimeout(grace);
    await gateway.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

/** `sluice check`: every config problem and every plugin problem in one run; exit 1 on any. */
async function check(options: Options) {
  const config = await loadConfigFile(options.config).catch((error: unknown) => {
    if (error instanceof ConfigError) return error;
    throw error;
  });
  const plugins = new PluginHost(options.plugins);
  await plugins.loadAll();
  const pluginProblems = plugins.problems();
  if (config instanceof ConfigError) console.error(config.message);
  if (pluginProblems.length) console.error(`plugins in ${options.plugins}:\n  ${pluginProblems.join("\n  ")}`);
  if (config instanceof ConfigError || pluginProblems.length) process.exit(1);
  console.log(`${options.config}: ok (${config.backends.size} backends, ${plugins.active.size} plugins)`);
}

async function main() {
  const { command, options } = parseOptions(process.argv.slice(2));
  switch (command) {
    case "serve": {
      const role = workerRole();
      if (!role && usesDefaultConfigPath() && !existsSync(options.config) && writeDefaultConfig(options.config)) {
        log.info(`no config at ${options.config}: wrote the default one there (one engine at 127.0.0.1:8000; edit it and save, the gateway reloads)`);
      }
      if (role) return serve(options, role);
      const plan = planWorkers(options.config, options.dataDir, options.host, options.port);
      if (servesInPlace(plan.count)) return serve(options, undefined);
      // Workers share the port (SO_REUSEPORT): one held by anything else must still be an error, not a neighbour.
      if (plan.count > 1 && plan.port) listenOrExit(() => Bun.listen({ hostname: plan.host, port: plan.port!, socket: { data() {} } }).stop(true), plan.host, plan.port);
      process.exit(await new Supervisor(plan).run());
    }
    case "check":
      return check(options);
    case "openapi":
      console.log(JSON.stringify(openapiDocument(), null, 2));
      return;
    case "keys":
      return keysCommand(options);
    case "accounts":
      return accountsOnStore(options);
    case "version":
      console.log(pkg.version);
      return;
    case "help":
      console.log(USAGE);
      return;
    default:
      fail(`unknown command '${command}'\n\n${USAGE}`);
  }
}

await main();
