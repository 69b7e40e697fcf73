// routing_policy: constrains where a request may run. Enforced wherever a backend is chosen: a model named
// directly, a balancer's pick and auto's pick alike; 422 when nothing may serve the request.
//   inferada: {processors: ["routing_policy"], routing_policy: {allow_public: false, tags: {region: "eu"}}}
import { definePlugin, t } from "sluice/plugin";

export default definePlugin({
  name: "routing_policy",
  kind: "processor",
  description: "Only backends matching the policy may serve the request (public or not, names, tags).",
  config: t.Object(
    {
      allow_public: t.Boolean({ default: true, description: "false: public catalog models (public:<name>) may not serve it" }),
      backends: t.Optional(t.Array(t.String({ minLength: 1 }), { description: "allowed backend ids; * matches any characters" })),
      tags: t.Optional(t.Record(t.String(), t.String(), { description: "every tag must match the backend's tags" })),
    },
    { additionalProperties: false },
  ),
  pre(ctx) {
    const { allow_public: allowPublic, backends, tags } = ctx.config;
    const patterns = backends?.map(globToRegExp);
    const rules: string[] = [];
    if (!allowPublic) rules.push("no public models");
    if (backends) rules.push(`backends ${backends.join(", ")}`);
    if (tags) rules.push(`tags ${Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(", ")}`);
    ctx.metadata.policy = rules;
    if (!rules.length) return;
    ctx.restrictTargets(
      (target) =>
        (allowPublic || !target.public) &&
        (!patterns || patterns.some((pattern) => pattern.test(target.id))) &&
        (!tags || Object.entries(tags).every(([key, value]) => target.tags[key] === value)),
      `allows ${rules.join("; ")}`,
    );
  },
});

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}
