// Hunspell files imported `with { type: "file" }`: Bun turns the import into a path string (under /$bunfs in a
// compiled binary) that Bun.file reads. TypeScript 7.0 has no types for such imports (bun-types adds them for >= 7.1).
declare module "*.aff" {
  const path: string;
  export default path;
}

declare module "*.dic" {
  const path: string;
  export default path;
}

declare module "*.txt" {
  const path: string;
  export default path;
}
