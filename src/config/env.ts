// `${VAR}` and `${VAR:-default}` expansion in every scalar string of the parsed YAML.
// Expansion happens after parsing, so an env value can never inject YAML structure.

const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function expandEnv(value: unknown, env: Record<string, string | undefined>, path: string, problems: string[]): unknown {
  if (typeof value === "string") return expandString(value, env, path, problems);
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, `${path}[${i}]`, problems));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = expandEnv(item, env, path ? `${path}.${key}` : key, problems);
    return out;
  }
  return value;
}

function expandString(text: string, env: Record<string, string | undefined>, path: string, problems: string[]): string {
  if (!text.includes("${")) return text;
  return text.replace(PATTERN, (_match, name: string, fallback: string | undefined) => {
    const found = env[name];
    if (found !== undefined && found !== "") return found;
    if (fallback !== undefined) return fallback;
    problems.push(`${path || "(root)"}: environment variable ${name} is not set (use \${${name}:-default} for a default)`);
    return "";
  });
}
