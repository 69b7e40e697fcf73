#!/usr/bin/env bun
// sluice's command line: serve (default), check, openapi, version. See README "Command line".
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { ConfigError, loadConfigFile } from "./config/load.ts";
import { Gateway } from "./gateway.ts";
import { startServer } from "./server.ts";
import { watchConfig } from "./config/watch.ts";
import { log } from "./observability/log.ts";
import { openapiDocument } from "./api/openapi.ts";
import pkg from "../package.json" with { type: "json" };

const USAGE = `sluice ${pkg.version} — self-hosted OpenAI-compatible LLM gateway

usage:
  sluice [serve] [--config FILE] [--host H] [--port N] [--data-dir DIR] [--plugins DIR]
  sluice check   [--config FILE]    validate the config, print every problem, exit 1 on any
  sluice openapi                    print the OpenAPI 3.1 document
  sluice version

environment: SLUICE_CONFIG, SLUICE_HOST, SLUICE_PORT, SLUICE_DATA_DIR, SLUICE_PLUGINS`;

interface Options {
  config: string;
  host?: string;
  port?: number;
  dataDir: string;
  plugins: string;
}

function parseOptions(argv: string[]): { command: string; options: Options } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
      "data-dir": { type: "string" },
      plugins: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return { command: "help", options: {} as Options };
  const env = process.env;
  const portText = values.port ?? env.SLUICE_PORT;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) fail(`--port: expected a port number 0-65535, got '${portText}'`);
  return {
    command: positionals[0] ?? "serve",
    options: {
      config: resolve(values.config ?? env.SLUICE_CONFIG ?? "config/sluice.yaml"),
      host: values.host ?? env.SLUICE_HOST,
      port,
      dataDir: resolve(values["data-dir"] ?? env.SLUICE_DATA_DIR ?? "data"),
      plugins: resolve(values.plugins ?? env.SLUICE_PLUGINS ?? "plugins"),
    },
  };
}

function fail(message: string): never {
  console.error(`sluice: ${message}`);
  process.exit(2);
}

async function loadOrExit(file: string) {
  try {
    return await loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

async function serve(options: Options) {
  const snapshot = await loadOrExit(options.config);
  const gateway = new Gateway(snapshot);
  const host = options.host ?? snapshot.server.host;
  const port = options.port ?? snapshot.server.port;
  const server = startServer(gateway, host, port);
  gateway.health.start();
  const watcher = watchConfig(options.config, () => gateway.snapshot, (next) => gateway.replaceSnapshot(next));
  log.info(`sluice ${pkg.version} listening on http://${server.hostname}:${server.port} (config ${options.config}, ${snapshot.backends.size} backends)`);
  const shutdown = async (signal: string) => {
    log.info(`${signal}: finishing in-flight requests`);
    watcher.close();
    gateway.health.stop();
    await server.stop(false);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

async function main() {
  const { command, options } = parseOptions(process.argv.slice(2));
  switch (command) {
    case "serve":
      return serve(options);
    case "check": {
      const snapshot = await loadOrExit(options.config);
      console.log(`${options.config}: ok (${snapshot.backends.size} backends)`);
      return;
    }
    case "openapi":
      console.log(JSON.stringify(openapiDocument(), null, 2));
      return;
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
