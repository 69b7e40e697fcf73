// `${VAR}` and `${VAR:-default}` expansion in every scalar string of the parsed YAML.
// Expansion happens after parsing, so an env value can never inject YAML structure.

const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * `expanded` collects the JSON pointers of strings that held a `${...}`: only those may be converted to the
 * number or boolean the schema wants (`port: ${PORT}`); a literal `port: "4080"` or `name: 123` stays an error.
 */
export function expandEnv(value: unknown, env: Record<string, string | undefined>, path: string, problems: string[], expanded = new Set<string>(), pointer = ""): unknown {
  if (typeof value === "string") {
    if (value.includes("${")) expanded.add(pointer);
    return expandString(value, env, path, problems);
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, `${path}[${i}]`, problems, expanded, `${pointer}/${i}`));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = expandEnv(item, env, path ? `${path}.${key}` : key, problems, expanded, `${pointer}/${key.replace(/~/g, "~0").replace(/\//g, "~1")}`);
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
