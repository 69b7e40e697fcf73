import { Elysia } from "elysia";
export function openapiRoutes() {
  return new Elysia({ name: "openapi" });
}
