// Stage: render the conversation for the backend's chat template (seed 002 "Prompt Templating").
// native                        the engine's own template sees the messages unchanged
// merge_system_into_first_user  system (and developer) messages are joined and prefixed to the first user
//                               message, for templates that reject a system role (Gemma, Mistral v1)
// system_as_user                each system message becomes a user message in place
import type { TemplateRenderMode } from "../config/schema.ts";

type Message = { role: string; content?: unknown } & Record<string, unknown>;

const isSystem = (m: Message) => m.role === "system" || m.role === "developer";

export function renderMessages(messages: Message[], mode: TemplateRenderMode): Message[] {
  if (mode === "native" || !messages.some(isSystem)) return messages;
  if (mode === "system_as_user") return messages.map((m) => (isSystem(m) ? { ...m, role: "user" } : m));

  const systemText = messages.filter(isSystem).map((m) => textOf(m.content)).join("\n\n");
  const rest = messages.filter((m) => !isSystem(m));
  const firstUser = rest.findIndex((m) => m.role === "user");
  if (firstUser < 0) return [{ role: "user", content: systemText }, ...rest];
  const user = rest[firstUser]!;
  const merged = Array.isArray(user.content)
    ? { ...user, content: [{ type: "text", text: `${systemText}\n\n` }, ...user.content] }
    : { ...user, content: `${systemText}\n\n${textOf(user.content)}` };
  return rest.map((m, i) => (i === firstUser ? merged : m));
}

/** The text of a message's content: a string, or its text parts joined. */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part): part is { type: "text"; text: string } => part?.type === "text" && typeof part.text === "string")
    .map((part) => part.text)
    .join("\n");
}
