// Model files imported `with { type: "file" }`: Bun turns the import into a path (under /$bunfs in a compiled
// binary) that readFileSync and Bun.file read. TypeScript 7.0 has no types for such imports.
declare module "*.bin" {
  const path: string;
  export default path;
}
