// browser: fetches a page and returns its readable text (never loopback, private or link-local addresses unless
// tools.browser.allow_hosts allows them). `render: true` runs the page's scripts in headless Chromium first.
//   tools: [{type: "browser"}]
import { definePlugin, t } from "sluice/plugin";

export default definePlugin({
  name: "browser",
  kind: "tool",
  description: "Open a web page and read its main text.",
  parameters: t.Object({
    url: t.String({ description: "the http(s) URL to open" }),
    render: t.Optional(t.Boolean({ description: "run the page's scripts first (slower; for pages that build their content in the browser)" })),
  }),
  async run(ctx, args) {
    const url = String(args.url ?? "");
    if (!url) throw new Error("url is required");
    const page = await ctx.services.browse(url, { render: args.render === true || ctx.request.render === true });
    return { results: [{ url: page.url, title: page.title }], text: `Title: ${page.title}\nURL: ${page.url}\n\n${page.text}${page.truncated ? "\n[truncated]" : ""}` };
  },
});
