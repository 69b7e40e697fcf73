// Backend and store URLs may carry credentials (`http://user:pass@host`, `?api_key=...`). Anything that prints a
// URL (sluice check, logs) prints it through maskUrl, which keeps what an operator needs to recognise the URL
// (scheme, host, port, path, query names) and hides every userinfo part and query value.

const HIDDEN = "***";

export function maskUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return maskUnparsed(text);
  }
  if (!url.username && !url.password && !url.search && !url.hash) return text; // nothing secret: as written
  if (url.username) url.username = HIDDEN;
  if (url.password) url.password = HIDDEN;
  if (url.search) {
    const names = [...url.searchParams.keys()];
    url.search = names.map((name) => `${encodeURIComponent(name)}=${HIDDEN}`).join("&");
  }
  url.hash = url.hash ? HIDDEN : "";
  return url.href.replace(/%2A%2A%2A/g, HIDDEN);
}

/** Text that is not a URL at all (a typo in the config) can still hold `user:pass@` or `key=value`. */
function maskUnparsed(text: string): string {
  return text.replace(/(\/\/)[^/@\s]*@/, `$1${HIDDEN}@`).replace(/([?&][^=&#\s]*=)[^&#\s]*/g, `$1${HIDDEN}`);
}
