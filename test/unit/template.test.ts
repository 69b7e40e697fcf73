import { describe, expect, test } from "bun:test";
import { renderMessages } from "../../src/pipeline/template.ts";

const conversation = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "Hi" },
  { role: "assistant", content: "Hello" },
  { role: "user", content: "Again" },
];

describe("template_render_mode", () => {
  test("native leaves messages untouched", () => {
    expect(renderMessages(conversation, "native")).toBe(conversation);
  });

  test("merge_system_into_first_user prefixes the first user turn", () => {
    expect(renderMessages(conversation, "merge_system_into_first_user")).toEqual([
      { role: "user", content: "Be brief.\n\nHi" },
      { role: "assistant", content: "Hello" },
      { role: "user", content: "Again" },
    ]);
  });

  test("merging keeps content parts and handles a conversation without a user turn", () => {
    const parts = renderMessages([{ role: "system", content: "S" }, { role: "user", content: [{ type: "text", text: "T" }] }], "merge_system_into_first_user");
    expect(parts).toEqual([{ role: "user", content: [{ type: "text", text: "S\n\n" }, { type: "text", text: "T" }] }]);
    expect(renderMessages([{ role: "system", content: "S" }], "merge_system_into_first_user")).toEqual([{ role: "user", content: "S" }]);
  });

  test("system_as_user changes the role in place", () => {
    expect(renderMessages(conversation, "system_as_user")[0]).toEqual({ role: "user", content: "Be brief." });
  });
});
