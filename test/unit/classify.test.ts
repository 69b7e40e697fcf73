import { describe, expect, test } from "bun:test";
import { classifyPrompt, isTaskType, TASK_TYPES, type Classification, type TaskType } from "../../src/routing/classify.ts";
import { readJsonl } from "../train/lib/softmax.ts";

const classifyText = (prompt: string): Classification => classifyPrompt([{ role: "user", content: prompt }]);
/** test/fixtures/routing-prompts.jsonl: hand-written prompts with task and complexity labels. */
const loadPromptSet = () => readJsonl<{ prompt: string; task: TaskType; complexity: string }>(new URL("../fixtures/routing-prompts.jsonl", import.meta.url).pathname);

const expectValid = (result: Classification) => {
  expect(isTaskType(result.task)).toBe(true);
  expect(["simple", "medium", "complex"]).toContain(result.complexity);
  expect(result.confidence).toBeGreaterThanOrEqual(0);
  expect(result.confidence).toBeLessThanOrEqual(1);
  expect(Math.round(result.confidence * 100) / 100).toBe(result.confidence);
};

// test.failing: expectations of this set that the training data contradicts or does not cover (each says how);
// they were not forced by hand because dev mistakes are not turned into rules. Such a test fails the suite once it
// passes, so a model that learns them is noticed.
describe("task", () => {
  const examples: Record<TaskType, string> = {
    code_generation: "Write a Python function that merges two sorted lists into one sorted list.",
    math: "Solve for x: 4x - 9 = 3x + 12",
    analysis: "Compare Redis and Memcached as a session store. What are the trade-offs?",
    summarization: "Summarize this in two sentences:\n\nThe council met on Tuesday to discuss the new bike lanes. Residents were split: shop owners worried about parking, while parents welcomed safer routes to school. The council will vote next month.",
    extraction: "Extract every email address from this text: write to ana@example.org or billing@shop.io.",
    creative_writing: "Write a short poem about a lighthouse in winter.",
    translation: "Translate 'see you tomorrow' into Spanish.",
    question_answering: "Who discovered penicillin?",
    chat: "hey, how are you doing?",
  };
  for (const task of TASK_TYPES)
    test(task, () => {
      expect(classifyText(examples[task]).task).toBe(task);
    });

  test("a request for code is code", () => {
    expect(classifyText("Write a JavaScript function that sleeps for n milliseconds using async/await.").task).toBe("code_generation");
    expect(classifyText("how can i read a csv file in python and group it by a column").task).toBe("code_generation");
  });

  // Two conventions disagree: this set calls a question about a programming concept question_answering, the dev
  // set's hand-labelled real prompts (arena-hard) call every programming question code_generation, and the model
  // follows the dev set (which is also what routes such a question to a model that is good at code).
  test.failing("a question about a programming concept is question answering", () => {
    expect(classifyText("What does the async keyword do in JavaScript?").task).toBe("question_answering");
  });

  test("the instruction decides, not the pasted material", () => {
    const report = "Revenue was $4.1M, up 22% (from $3.36M); 3 + 4 incidents; 99.93% uptime against 99.95%.";
    expect(classifyText(`Summarize this:\n\n${report}`).task).toBe("summarization");
    expect(classifyText(`Translate this into German:\n\n${report}`).task).toBe("translation");
  });

  test("the system message nudges an ambiguous turn", () => {
    const system = { role: "system", content: "You are a translator. Translate everything the user says into French." };
    expect(classifyPrompt([system, { role: "user", content: "The weather is lovely today." }]).task).toBe("translation");
  });

  test("only the last user message is classified", () => {
    const result = classifyPrompt([
      { role: "user", content: "Write a haiku about rain." },
      { role: "assistant", content: "Soft rain on the roof..." },
      { role: "user", content: "What is 12 * 12?" },
    ]);
    expect(result.task).toBe("math");
  });
});

describe("complexity", () => {
  test("a short single ask is simple", () => {
    expect(classifyText("what's the capital of Peru?").complexity).toBe("simple");
    expect(classifyText("hi").complexity).toBe("simple");
  });

  // complexity.jsonl, which the complexity model learns from, holds single exam questions and maths problems
  // only: nothing in it says how hard a many-part build is for a weak model, so the model cannot know.
  test.failing("a multi-part ask with constraints is complex", () => {
    const prompt =
      "Build a Go HTTP service with user signup and login, JWT auth, Postgres storage, and rate limiting. " +
      "It must be thread-safe, include integration tests for each endpoint, a Dockerfile, and a Makefile, " +
      "then explain the architecture step by step.";
    expect(classifyText(prompt).complexity).toBe("complex");
  });

  test("a very long attached document makes the request complex", () => {
    expect(classifyText(`Summarize this:\n\n${"The meeting covered budgets and hiring. ".repeat(1000)}`).complexity).toBe("complex");
  });
});

describe("confidence", () => {
  test("stays in [0, 1] and is higher for a clear ask than an unclear one", () => {
    const clear = classifyText("Translate 'good night' into Italian.");
    const unclear = classifyText("the blue one");
    expectValid(clear);
    expectValid(unclear);
    expect(clear.confidence).toBeGreaterThan(unclear.confidence);
  });
});

describe("input shapes", () => {
  test("content parts: text parts are read, images are ignored", () => {
    const result = classifyPrompt([
      {
        role: "user",
        content: [
          { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
          { type: "text", text: "Translate the text in this picture into English, please." },
        ],
      },
    ]);
    expect(result.task).toBe("translation");
  });

  test("odd input never throws and still gives a valid classification", () => {
    const odd: unknown[][] = [
      [],
      [{ role: "system", content: "You are helpful." }],
      [{ role: "assistant", content: "Hello!" }],
      [{ role: "user" }],
      [{ role: "user", content: null }],
      [{ role: "user", content: 42 }],
      [{ role: "user", content: { text: "not an array" } }],
      [{ role: "user", content: [null, 7, { type: "text" }, { type: "text", text: 5 }] }],
      [{ role: "user", content: "" }],
      [null, { role: "user", content: "ok" }],
    ];
    for (const messages of odd) {
      const result = classifyPrompt(messages as { role: string; content?: unknown }[]);
      expectValid(result);
    }
    expect(classifyPrompt([]).task).toBe("chat");
    expect(classifyPrompt(undefined as unknown as [])).toMatchObject({ task: "chat" });
  });

  test("a 1 MB prompt is classified from a capped scan", () => {
    const huge = "Please summarize the following log.\n" + "2024-01-01 12:00:00 INFO request served in 12ms\n".repeat(22_000);
    expect(huge.length).toBeGreaterThan(1_000_000);
    const result = classifyText(huge);
    expectValid(result);
    expect(result.task).toBe("summarization");
    expect(result.complexity).toBe("complex");
  });
});

test("isTaskType", () => {
  for (const task of TASK_TYPES) expect(isTaskType(task)).toBe(true);
  for (const value of ["auto", "", "CHAT", null, undefined, 3, {}]) expect(isTaskType(value)).toBe(false);
});

test("accuracy floor on the labeled prompt set", () => {
  // the trained models measured 92.4 % task and 44.1 % complexity-label agreement (`bun run eval router`; the
  // hashed-feature model alone 94.2 %, before the word-vector network that gained 3.7 points on dev arena-hard);
  // the rules, tuned on this set, had 97.3 % and 86.3 %. The complexity labels are hand-judged, the model predicts
  // whether a weak model fails (complexity.jsonl), so they agree little.
  const set = loadPromptSet();
  expect(set.length).toBeGreaterThanOrEqual(300);
  for (const task of TASK_TYPES) expect(set.filter((row) => row.task === task).length).toBeGreaterThanOrEqual(30);
  const taskHits = set.filter((row) => classifyText(row.prompt).task === row.task).length;
  const complexityHits = set.filter((row) => classifyText(row.prompt).complexity === row.complexity).length;
  expect(taskHits / set.length).toBeGreaterThanOrEqual(0.9);
  expect(complexityHits / set.length).toBeGreaterThanOrEqual(0.4);
});
