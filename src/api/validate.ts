// Compiled validators for request bodies. A failed check becomes a 400 naming the field and what it expects.
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import type { TSchema } from "@sinclair/typebox";
import { GatewayError } from "../errors.ts";
import { components } from "./schemas.ts";

/**
 * Compiled on first use: an idle gateway never builds the admin, Responses, Messages and passthrough checks it
 * is not asked for (compiling them all at import cost ~4.5 MiB of idle RSS, README "Many streams at once").
 */
export function compileValidator<S extends TSchema>(schema: S): (value: unknown) => void {
  let check: TypeCheck<S> | undefined;
  return (value) => validateWith((check ??= compile(schema)), value);
}

/**
 * Compiled now, for the routes every gateway serves (chat, embeddings): their first request should not pay the
 * compilation (~9 ms for the chat request's schema).
 */
export function compileValidatorNow<S extends TSchema>(schema: S): (value: unknown) => void {
  const check = compile(schema);
  return (value) => validateWith(check, value);
}

const compile = <S extends TSchema>(schema: S): TypeCheck<S> => TypeCompiler.Compile(schema, components.filter((c) => c !== schema));

function validateWith(check: TypeCheck<TSchema>, value: unknown): void {
  if (check.Check(value)) return;
  const first = check.Errors(value).First();
  const field = first ? first.path.slice(1).replace(/\/(\d+)/g, "[$1]").replace(/\//g, ".") : "";
  const expectation = first ? describe(first.schema, first.message) : "invalid value";
  throw new GatewayError("invalid_request", field ? `${field}: ${expectation}` : `request body: ${expectation}`, { param: field || null });
}

function describe(schema: TSchema, message: string): string {
  const choices = (schema.anyOf as TSchema[] | undefined)?.map((option) => option.const).filter((v) => v !== undefined);
  if (choices?.length) return `expected one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`;
  return message.charAt(0).toLowerCase() + message.slice(1);
}
