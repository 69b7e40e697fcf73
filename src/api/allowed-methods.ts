// Which methods a path is served with, from the app's route table: a request with another method gets 405 and an
// `Allow` header rather than a 404 that suggests the path does not exist.
export interface RouteEntry {
  method: string;
  path: string;
}

const patterns = new WeakMap<RouteEntry, RegExp>();

export function allowedMethods(routes: readonly RouteEntry[], pathname: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || route.method === "WS") continue;
    let pattern = patterns.get(route);
    if (!pattern) patterns.set(route, (pattern = routePattern(route.path)));
    if (pattern.test(pathname)) methods.add(route.method);
  }
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

/** `/v1/keys/:id` and `/v1/models/*` as a regular expression over the whole path. */
function routePattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((part) => (part === "*" ? ".*" : part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}/?$`);
}
