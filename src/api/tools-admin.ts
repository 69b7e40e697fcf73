// Admin endpoints for what the platform tools search: the vector databases (POST/DELETE documents, GET the
// list with counts) and the `local` search provider's documents.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { readJsonBody, expectObject } from "../pipeline/read-body.ts";

type DocumentInput = { id?: string; text: string; title?: string; url?: string; metadata?: Record<string, string | number | boolean> };

export async function listVectorDatabases(gateway: Gateway) {
  const snapshot = gateway.snapshot;
  const data = await Promise.all(
    [...snapshot.vectorDatabases.values()].map(async (database) => {
      const counts = await gateway.vectors.store(snapshot, database.name).count();
      return { name: database.name, store: database.store, embedding_backend: database.embeddingBackend.id, description: database.description, ...counts };
    }),
  );
  return { object: "list" as const, data };
}

export async function addVectorDocuments(req: Request, gateway: Gateway, name: string) {
  const snapshot = gateway.snapshot;
  const store = gateway.vectors.store(snapshot, name);
  const documents = await documentsOf(req, gateway, false);
  const added = await store.add(documents, gateway.vectors.embedder(snapshot, name, req.signal));
  return { object: "vector_database.documents", vector_database: name, ...added };
}

export async function removeVectorDocuments(req: Request, gateway: Gateway, name: string) {
  const store = gateway.vectors.store(gateway.snapshot, name);
  return { object: "vector_database.documents", vector_database: name, ...(await store.remove(await idsOf(req, gateway))) };
}

export async function addSearchDocuments(req: Request, gateway: Gateway) {
  const documents = await documentsOf(req, gateway, true);
  return { object: "search.documents", ...gateway.localSearch.add(documents.map((d) => ({ id: d.id, title: d.title!, url: d.url, text: d.text }))), total: gateway.localSearch.count() };
}

export async function removeSearchDocuments(req: Request, gateway: Gateway) {
  return { object: "search.documents", ...gateway.localSearch.remove(await idsOf(req, gateway)), total: gateway.localSearch.count() };
}

/** `{"documents": [{id?, text, title?, url?, metadata?}]}`, every problem named by its path. */
async function documentsOf(req: Request, gateway: Gateway, needsTitle: boolean): Promise<DocumentInput[]> {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  if (!Array.isArray(body.documents) || body.documents.length === 0) throw invalid("documents", "expected a non-empty array of {text, id?, metadata?}");
  return body.documents.map((document: unknown, i: number) => {
    const d = document as Record<string, unknown>;
    if (d === null || typeof d !== "object") throw invalid(`documents[${i}]`, "expected an object");
    if (typeof d.text !== "string" || !d.text.trim()) throw invalid(`documents[${i}].text`, "expected non-empty text");
    if (d.id !== undefined && (typeof d.id !== "string" || !d.id)) throw invalid(`documents[${i}].id`, "expected a non-empty string");
    if (needsTitle && typeof d.title !== "string") throw invalid(`documents[${i}].title`, "expected a string");
    if (d.url !== undefined && typeof d.url !== "string") throw invalid(`documents[${i}].url`, "expected a string");
    if (d.metadata !== undefined) {
      const valid = d.metadata !== null && typeof d.metadata === "object" && Object.values(d.metadata).every((v) => ["string", "number", "boolean"].includes(typeof v));
      if (!valid) throw invalid(`documents[${i}].metadata`, "expected an object of strings, numbers and booleans");
    }
    return d as unknown as DocumentInput;
  });
}

async function idsOf(req: Request, gateway: Gateway): Promise<string[]> {
  const body = expectObject(await readJsonBody(req, gateway.snapshot.server.max_body_bytes));
  if (!Array.isArray(body.ids) || !body.ids.every((id) => typeof id === "string")) throw invalid("ids", "expected an array of document ids");
  return body.ids as string[];
}

function invalid(param: string, what: string): GatewayError {
  return new GatewayError("invalid_request", `${param}: ${what}`, { param });
}
