// The default config imported `with { type: "text" }` (first-run.ts): Bun gives its text, embedded in a compiled
// binary. TypeScript 7.0 has no types for such imports.
declare module "*.yaml" {
  const text: string;
  export default text;
}
