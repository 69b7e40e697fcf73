// The known Bun limit in README "Known runtime limits": two HTTP/1.1 POSTs pipelined on one connection to a
// Bun.serve whose handler awaits (as every gateway handler does) get no answers in Bun 1.4.5. No sluice code is
// involved. Run with a candidate Bun: `path/to/bun test/bench/bun-pipelining.ts`; exit 0 once it is fixed.
import { connect } from "node:net";

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    const body = await req.text();
    await Bun.sleep(100); // a model call
    return new Response(`got ${body.length} aborted=${req.signal.aborted}\n`);
  },
});

const post = (body: string) => `POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const socket = connect(server.port!, "127.0.0.1", () => socket.write(post("first") + post("second!")));
let received = "";
socket.on("data", (chunk) => (received += chunk));
await Bun.sleep(1_500);
const answers = received.match(/got \d+ aborted=\w+/g) ?? [];
console.log(`Bun ${Bun.version}: ${answers.length} of 2 pipelined POSTs answered ${JSON.stringify(answers)}`);
socket.destroy();
server.stop(true);
process.exit(answers.length === 2 ? 0 : 1);
