// The body of a translated or passed-through request: read within the server's body limits, a JSON object.
import type { Snapshot } from "../config/resolve.ts";
import { expectObject, readJsonBody } from "../pipeline/read-body.ts";

export async function readJsonObject(req: Request, snapshot: Snapshot): Promise<Record<string, unknown>> {
  return expectObject(await readJsonBody(req, snapshot.server.max_body_bytes));
}
