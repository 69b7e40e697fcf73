// The sqlite-vec extension imported `with { type: "file" }`: Bun turns the import into a path string (under /$bunfs
// in a compiled binary). TypeScript 7.0 has no types for such imports (bun-types adds them for >= 7.1).
declare module "*.so" {
  const path: string;
  export default path;
}
