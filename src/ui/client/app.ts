// The shell: sign-in, the navigation and the page for the current hash route (#/keys, #/requests/<id>, …).
// Hash routes need no server-side fallback, and every page is a plain link, so Tab and Enter reach all of them.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ErrorNote, html } from "./lib.ts";
import type { Session } from "./types.ts";
import { OverviewPage } from "./page-overview.ts";
import { BackendsPage } from "./page-backends.ts";
import { KeysPage } from "./page-keys.ts";
import { UsagePage } from "./page-usage.ts";
import { RequestsPage } from "./page-requests.ts";
import { PluginsPage } from "./page-plugins.ts";

interface PageSpec {
  path: string;
  title: string;
  adminOnly: boolean;
  render: (session: Session, rest: string) => unknown;
}

const PAGES: PageSpec[] = [
  { path: "overview", title: "Overview", adminOnly: false, render: (s) => html`<${OverviewPage} session=${s} />` },
  { path: "backends", title: "Backends", adminOnly: true, render: () => html`<${BackendsPage} />` },
  { path: "keys", title: "Keys", adminOnly: false, render: (s) => html`<${KeysPage} session=${s} />` },
  { path: "usage", title: "Usage", adminOnly: false, render: (s) => html`<${UsagePage} session=${s} />` },
  { path: "requests", title: "Requests", adminOnly: false, render: (s, rest) => html`<${RequestsPage} session=${s} detail=${rest} />` },
  { path: "plugins", title: "Plugins and config", adminOnly: true, render: () => html`<${PluginsPage} />` },
];

function currentRoute(): { page: string; rest: string } {
  const [page = "overview", ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { page: page || "overview", rest: rest.join("/") };
}

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [route, setRoute] = useState(currentRoute());
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    api<Session>("/v1/dashboard/session").then((s) => setSession(s.signed_in ? s : null), () => setSession(null));
    const onHash = () => setRoute(currentRoute());
    const onSignedOut = () => setSession(null);
    window.addEventListener("hashchange", onHash);
    window.addEventListener("sluice:signed-out", onSignedOut);
    return () => {
      window.removeEventListener("hashchange", onHash);
      window.removeEventListener("sluice:signed-out", onSignedOut);
    };
  }, []);

  // A new page moves focus to its heading, so keyboard and screen-reader users land on what they opened.
  useEffect(() => {
    main.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [route.page, session === null]);

  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (session === null) return html`<${SignIn} onSignedIn=${setSession} />`;

  const pages = PAGES.filter((p) => session.admin || !p.adminOnly);
  const page = pages.find((p) => p.path === route.page) ?? pages[0]!;
  const signOut = async () => {
    await api("/v1/dashboard/session", { method: "DELETE" }).catch(() => undefined);
    setSession(null);
  };
  return html`
    <a class="skip" href="#main" onClick=${(e: Event) => (e.preventDefault(), main.current?.querySelector<HTMLElement>("h1")?.focus())}>Skip to content</a>
    <header class="top">
      <span class="brand">sluice</span>
      <nav aria-label="Dashboard">
        <ul>
          ${pages.map((p) => html`<li><a href=${`#/${p.path}`} aria-current=${p === page ? "page" : undefined}>${p.title}</a></li>`)}
        </ul>
      </nav>
      <span class="who">${session.name}${session.admin ? " (admin)" : ""}</span>
      <button type="button" class="link" onClick=${signOut}>Sign out</button>
    </header>
    <main id="main" ref=${main}>${page.render(session, route.rest)}</main>`;
}

function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const key = (form.elements.namedItem("api_key") as HTMLInputElement).value.trim();
    setBusy(true);
    try {
      await api("/v1/auth/session", { method: "POST", body: { api_key: key } });
      const session = await api<Session>("/v1/dashboard/session");
      if (session.signed_in) onSignedIn(session);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin" id="main">
    <h1 tabindex="-1">Sign in to sluice</h1>
    <p>Use an API key. An admin key sees every key's traffic; any other key sees its own.</p>
    <form onSubmit=${submit}>
      <label for="api_key">API key</label>
      <input id="api_key" name="api_key" type="password" autocomplete="off" required placeholder="inf_…" autofocus />
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
    <${ErrorNote} error=${error} />
  </main>`;
}
