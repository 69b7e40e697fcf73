// flexible_vector_database_search: the top chunks of a vector database declared in the config (vector_databases),
// by meaning. With a `query` in the request's tool object it searches before the first model call and gives the
// model the results as context; the model may also search itself.
//   tools: [{type: "flexible_vector_database_search", vector_database: "support-kb", query?: "...", top_k?: 5, filter?: {...}}]
import { definePlugin, MAX_FILTER_KEYS, t, type ToolContext } from "sluice/plugin";

const DEFAULT_TOP_K = 5;

export default definePlugin({
  name: "flexible_vector_database_search",
  kind: "tool",
  description: "Search the operator's knowledge base by meaning and return the most relevant passages.",
  parameters: t.Object({
    query: t.String({ description: "what to look for" }),
    top_k: t.Optional(t.Integer({ minimum: 1, maximum: 50 })),
  }),
  checkRequest(request, platform) {
    const database = request.vector_database;
    const configured = platform.vectorDatabases.join(", ") || "none (vector_databases in the config)";
    if (typeof database !== "string" || !database) return `vector_database: name one of the configured vector databases: ${configured}`;
    if (!platform.vectorDatabases.includes(database)) return `vector_database: no vector database '${database.slice(0, 64)}'; configured: ${configured}`;
    const filter = request.filter;
    if (filter === undefined || filter === null) return undefined;
    if (typeof filter !== "object" || Array.isArray(filter)) return "filter: expected an object of metadata key → value";
    const entries = Object.entries(filter);
    if (entries.length > MAX_FILTER_KEYS) return `filter: at most ${MAX_FILTER_KEYS} metadata keys, got ${entries.length}`;
    const bad = entries.find(([, value]) => !["string", "number", "boolean"].includes(typeof value));
    return bad ? `filter.${bad[0].slice(0, 64)}: expected a string, number or boolean` : undefined;
  },
  async before(ctx) {
    const query = ctx.request.query;
    return typeof query === "string" && query.trim() ? search(ctx, query, undefined) : undefined;
  },
  async run(ctx, args) {
    const query = String(args.query ?? "").trim();
    if (!query) throw new Error("query is required");
    return search(ctx, query, typeof args.top_k === "number" ? args.top_k : undefined);
  },
});

async function search(ctx: ToolContext, query: string, topK: number | undefined) {
  const database = ctx.request.vector_database;
  if (typeof database !== "string" || !database) throw new Error("the tool needs vector_database: the name of a vector database from the config");
  const requested = typeof ctx.request.top_k === "number" ? ctx.request.top_k : DEFAULT_TOP_K;
  const filter = ctx.request.filter !== null && typeof ctx.request.filter === "object" ? (ctx.request.filter as Record<string, string | number | boolean>) : undefined;
  const hits = await ctx.services.vectorSearch(database, query, { topK: topK ?? requested, filter });
  const text = hits.length
    ? hits.map((hit, i) => `[${i + 1}] (${hit.document_id}, score ${hit.score.toFixed(3)}) ${hit.text}`).join("\n\n")
    : `nothing in ${database} matches "${query}"`;
  return { results: hits, text };
}
