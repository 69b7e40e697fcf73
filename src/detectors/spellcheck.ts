// Spell correction with the Hunspell dictionaries of the dictionary-* packages, checked by nspell in a Worker
// (spellcheck-worker.ts): building a dictionary takes seconds (French 3-6 s) and suggesting for a long text can too,
// which on the main thread would stall every request the gateway is serving.
import type { SpellReply, SpellRequest } from "./spellcheck-worker.ts";

export const SPELLCHECK_LANGUAGES = ["en", "de", "fr", "es"] as const;
export type SpellLanguage = (typeof SPELLCHECK_LANGUAGES)[number];
/** One replaced word; `offset` is its UTF-16 index in the original text. */
export interface Correction {
  from: string;
  to: string;
  offset: number;
}
export interface SpellResult {
  text: string;
  corrections: Correction[];
}

// A call that gets no answer in this time fails rather than holding its request. The first call for a language waits
// for its dictionary to be built (French: 3-6 s), and calls queue in the worker behind each other.
const CALL_TIMEOUT_MS = 10_000;

// `bun build --compile` bundles this module into the binary's entry file, so import.meta.url is then that file's
// (file:///$bunfs/root/sluice), and it embeds the worker entrypoint under its path relative to src/, the entrypoints'
// common folder (see the build script).
const WORKER_URL = Bun.isStandaloneExecutable
  ? new URL("./detectors/spellcheck-worker.ts", import.meta.url)
  : new URL("./spellcheck-worker.ts", import.meta.url);

interface PendingCall {
  resolve: (result: SpellResult) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The worker thread and the calls it has yet to answer. */
interface SpellWorker {
  thread: Worker;
  calls: Map<number, PendingCall>;
}

let current: SpellWorker | undefined;
let nextCallId = 0;

export function isSpellLanguage(value: unknown): value is SpellLanguage {
  return typeof value === "string" && (SPELLCHECK_LANGUAGES as readonly string[]).includes(value);
}

/** Corrects misspelled words in `text` with the language's Hunspell dictionary (loaded once, lazily, then cached). */
export async function correctSpelling(text: string, language: SpellLanguage): Promise<SpellResult> {
  const worker = current ?? startWorker();
  const id = nextCallId++;
  return new Promise<SpellResult>((resolve, reject) => {
    const timer = setTimeout(
      () => settle(worker, id, new Error(`spellcheck (${language}) gave no answer within ${CALL_TIMEOUT_MS} ms`)),
      CALL_TIMEOUT_MS,
    );
    worker.calls.set(id, { resolve, reject, timer });
    worker.thread.ref(); // an answer is due: keep the process alive for it
    worker.thread.postMessage({ id, text, language } satisfies SpellRequest);
  });
}

function startWorker(): SpellWorker {
  const worker: SpellWorker = { thread: new Worker(WORKER_URL), calls: new Map() };
  worker.thread.unref(); // an idle worker must not keep the process alive
  worker.thread.addEventListener("message", (event: MessageEvent<SpellReply>) => {
    const reply = event.data;
    settle(worker, reply.id, "error" in reply ? new Error(`spellcheck failed: ${reply.error}`) : reply.result);
  });
  worker.thread.addEventListener("error", (event) => {
    event.preventDefault(); // reported through the pending calls instead
    retire(worker, `the spellcheck worker failed: ${event.message}`);
  });
  worker.thread.addEventListener("close", (event) => retire(worker, `the spellcheck worker exited (code ${event.code})`));
  current = worker;
  return worker;
}

/** Drops a worker that failed or exited: its pending calls fail now, and the next call starts a new worker. */
function retire(worker: SpellWorker, reason: string): void {
  if (current === worker) current = undefined;
  worker.thread.terminate();
  for (const id of worker.calls.keys()) settle(worker, id, new Error(`${reason}; the call is lost, retry it`));
}

function settle(worker: SpellWorker, id: number, outcome: SpellResult | Error): void {
  const call = worker.calls.get(id);
  if (call === undefined) return; // answered after its time ran out, or already failed
  worker.calls.delete(id);
  clearTimeout(call.timer);
  if (worker.calls.size === 0) worker.thread.unref();
  if (outcome instanceof Error) call.reject(outcome);
  else call.resolve(outcome);
}
