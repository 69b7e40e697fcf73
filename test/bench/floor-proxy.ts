// The floor under any gateway that keeps the OpenAI contract, for `bun run bench test/bench/floor.target`: the least
// work a JSON-aware proxy can do, and nothing else (no auth, limits, ledger, metrics, timeouts or errors). It
// parses the request and re-serialises it with the upstream's model id; a buffered answer is parsed and stamped
// with our id and `timings`; a stream asks for usage and is relayed by a JavaScript pull stream that writes the
// engine's bytes unread. sluice's distance from this proxy is what its own features cost.
const port = Number(process.env.PORT ?? 18109);
const upstream = `${process.env.UPSTREAM_BASE ?? "http://127.0.0.1:18000/v1"}/chat/completions`;
const upstreamHeaders = { "content-type": "application/json" };

Bun.serve({
  hostname: "127.0.0.1",
  port,
  routes: {
    "/healthz": new Response("ok"),
    "/v1/chat/completions": {
      POST: async (req) => {
        const started = performance.now();
        const id = crypto.randomUUID();
        const body = JSON.parse(await req.text());
        if (body.stream) body.stream_options = { include_usage: true };
        const engine = await fetch(upstream, { method: "POST", headers: upstreamHeaders, body: JSON.stringify(body), signal: req.signal });
        if (!body.stream) {
          const completion = JSON.parse(await engine.text());
          completion.id = `chatcmpl-${id}`;
          completion.timings = { total_ms: performance.now() - started };
          return new Response(JSON.stringify(completion), { headers: { "content-type": "application/json", "x-request-id": id } });
        }
        const reader = engine.body!.getReader();
        const relay: Bun.DirectUnderlyingSource<Uint8Array> = {
          type: "direct",
          async pull(controller) {
            for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) controller.write(chunk.value);
            await controller.end();
          },
        };
        return new Response(new ReadableStream(relay), { headers: { "content-type": "text/event-stream", "x-request-id": id } });
      },
    },
  },
});
