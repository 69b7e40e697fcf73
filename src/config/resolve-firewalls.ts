// Resolve step for firewalls: rules compiled once (regexes, catalogs), the judge's backend looked up, every problem
// reported with its YAML path.
import type { FirewallConfig } from "./schema.ts";
import type { Backend } from "./resolve.ts";
import { compileRule, type CompiledRule } from "../firewall/rules.ts";
import { DEFAULT_JUDGE_PROMPT, type JudgeSettings } from "../firewall/judge.ts";

export interface Firewall {
  readonly slug: string;
  readonly description: string;
  readonly rules: readonly CompiledRule[];
  readonly judge: JudgeSettings | undefined;
  /** For the judge's unsafe verdict (rules carry their own). */
  readonly action: "block" | "flag";
  /** Screen the answer too, holding back this many characters in streams. */
  readonly outputWindowChars: number | undefined;
}

export function resolveFirewalls(configs: FirewallConfig[], backends: ReadonlyMap<string, Backend>, problems: string[]): Map<string, Firewall> {
  const firewalls = new Map<string, Firewall>();
  configs.forEach((config, i) => {
    const path = `firewalls[${i}]`;
    if (firewalls.has(config.slug)) problems.push(`${path}.slug: '${config.slug}' is already used by another firewall`);
    const rules = config.rules.flatMap((rule, r) => compileRule(rule, config.action, `${path}.rules[${r}]`, problems) ?? []);
    let judge: JudgeSettings | undefined;
    if (config.judge) {
      const backend = backends.get(config.judge.backend);
      if (!backend) problems.push(`${path}.judge.backend: no backend named '${config.judge.backend}'`);
      else {
        judge = {
          backend,
          prompt: config.judge.prompt ?? DEFAULT_JUDGE_PROMPT,
          timeoutMs: config.judge.timeout_ms,
          fail: config.judge.fail,
          always: config.judge.always,
          cacheTtlMs: config.judge.cache_ttl_s * 1000,
        };
      }
    }
    if (!config.rules.length && !config.judge) problems.push(`${path}: a firewall needs rules, a judge, or both`);
    firewalls.set(config.slug, { slug: config.slug, description: config.description ?? "", rules, judge, action: config.action, outputWindowChars: config.output?.window_chars });
  });
  return firewalls;
}
