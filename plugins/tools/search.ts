// search: web search with the provider in the config (tools.search: local, searxng, brave or tavily).
//   tools: [{type: "search"}]
import { definePlugin, t } from "sluice/plugin";

export default definePlugin({
  name: "search",
  kind: "tool",
  description: "Search the web (or the operator's document index) and return titles, URLs and snippets.",
  parameters: t.Object({
    query: t.String({ description: "what to search for" }),
    max_results: t.Optional(t.Integer({ minimum: 1, maximum: 20, description: "how many results (default from the config)" })),
  }),
  async run(ctx, args) {
    const query = String(args.query ?? "").trim();
    if (!query) throw new Error("query is required");
    const results = await ctx.services.search(query, typeof args.max_results === "number" ? args.max_results : undefined);
    const text = results.length
      ? results.map((result, i) => `${i + 1}. ${result.title} (${result.url})\n   ${result.snippet}`).join("\n")
      : `no results for "${query}"`;
    return { results, text };
  },
});
