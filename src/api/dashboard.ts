// The web dashboard: GET /ui (page and assets from the binary) and the JSON it reads under /v1/dashboard/*.
// Every endpoint authenticates like the rest of the API (bearer key or the session cookie) and narrows rows to
// the caller's own key unless it is an admin. Key writes use /v1/keys; sign-out is the one write here.
import { Elysia } from "elysia";
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { Principal } from "../auth/authenticate.ts";
import { SESSION_COOKIE } from "../auth/session.ts";
import { instantMs, keyFilter, requireAdmin, requireSameOrigin, viewerOf } from "./dashboard-access.ts";
import { parseWindow } from "./dashboard-overview.ts";
import { parseRequestFilters } from "./dashboard-requests.ts";
import { dashboardUsageResponse, parseUsageQuery } from "./dashboard-usage.ts";
import { backendsStatus } from "./dashboard-backends.ts";
import { effectiveConfig } from "./dashboard-config.ts";

type Context = { request: Request };
type Authenticate = (context: Context) => Promise<Principal>;

// Loaded on the first /ui request: running from source, that is when the browser bundle is built (see ui/bundle.ts).
const assets = () => import("../ui/assets.ts");

export function dashboardRoutes(gateway: Gateway, authenticate: Authenticate) {
  const viewer = async (context: Context) => viewerOf(await authenticate(context));
  /** The store writes the ledger's queued rows and roll-up sums first, so a request that just finished is on the page. */
  const reads = gateway.store.reads;
  const search = (context: Context) => new URL(context.request.url).searchParams;

  return new Elysia({ name: "dashboard" })
    .get("/ui", async () => (await assets()).dashboardPage())
    .get("/ui/", async () => (await assets()).dashboardPage())
    .get("/ui/assets/:tag/:name", async ({ params }) => {
      const asset = (await assets()).dashboardAsset(params.tag, params.name);
      if (!asset) throw new GatewayError("not_found", `no dashboard asset '${params.name}'; GET /ui loads the current ones`);
      return asset;
    })
    // A probe the page makes before sign-in, so "not signed in" is an answer (200), not an error in the console.
    .get("/v1/dashboard/session", async (c) => {
      const mode = gateway.snapshot.auth.mode;
      let principal: Principal;
      try {
        principal = await authenticate(c);
      } catch (error) {
        if (error instanceof GatewayError && error.code === "unauthorized") return { object: "dashboard.session", signed_in: false, auth_mode: mode, reason: error.message };
        throw error;
      }
      const key = principal.key;
      if (!key) return { object: "dashboard.session", signed_in: true, key_id: null, name: "anonymous (auth.mode none)", prefix: null, scopes: [], admin: true, auth_mode: mode };
      return { object: "dashboard.session", signed_in: true, key_id: key.id, name: key.name, prefix: key.prefix, scopes: key.scopes, admin: viewerOf(principal).admin, auth_mode: mode };
    })
    .delete("/v1/dashboard/session", ({ request }) => {
      requireSameOrigin(request);
      const secure = new URL(request.url).protocol === "https:" || request.headers.get("x-forwarded-proto") === "https";
      return new Response(null, { status: 204, headers: { "set-cookie": `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0${secure ? "; Secure" : ""}` } });
    })
    .get("/v1/dashboard/overview", async (c) => {
      const v = await viewer(c);
      const params = search(c);
      return reads.overview(parseWindow(params.get("window")), keyFilter(v, params.get("key_id")), Date.now());
    })
    .get("/v1/dashboard/usage", async (c) => {
      const v = await viewer(c);
      const params = search(c);
      const query = parseUsageQuery(params, keyFilter(v, params.get("key_id")), Date.now());
      return dashboardUsageResponse(await reads.dashboardUsage(query), params.get("format"));
    })
    .get("/v1/dashboard/requests", async (c) => {
      const v = await viewer(c);
      const params = search(c);
      return reads.requests(parseRequestFilters(params, keyFilter(v, params.get("key_id"))));
    })
    .get("/v1/dashboard/requests/:request_id", async (c) => {
      const v = await viewer(c);
      return reads.requestDetail(decodeURIComponent(c.params.request_id), instantMs(search(c).get("at"), "at"), v.ownKeyId);
    })
    .get("/v1/dashboard/keys", async (c) => {
      const principal = await authenticate(c);
      const v = viewerOf(principal);
      const keys = v.admin ? await gateway.keys.list() : [principal.key!];
      return reads.keysWithUse(keys, Date.now());
    })
    .get("/v1/dashboard/backends", async (c) => {
      requireAdmin(await viewer(c), "the backends page");
      return backendsStatus(gateway.snapshot, gateway.health, gateway.routing.stats, Date.now());
    })
    .get("/v1/dashboard/config", async (c) => {
      requireAdmin(await viewer(c), "the config page");
      return effectiveConfig(gateway.snapshot);
    });
}
