// Admission's budget reservation: what a request has already spent on side calls (the firewall's judge, auto's
// classifier model) is reserved with the model's worst case, so concurrent requests cannot overspend through it.
import { describe, expect, test } from "bun:test";
import { Limits, admit } from "../../src/pipeline/admission.ts";
import { DEFAULT_SETTINGS, type ApiKey } from "../../src/auth/key-record.ts";
import type { Backend } from "../../src/config/resolve.ts";
import { GatewayError } from "../../src/errors.ts";

const key: ApiKey = { ...DEFAULT_SETTINGS, name: "budgeted", id: "key-1", prefix: "inf_test", created_at: 0, revoked_at: null, budget_usd_daily: 1 };
// Output-priced only, and the requests ask for no completion tokens: the model's worst case is 0.
const backend = { id: "free-prompt", pricing: { outputPerMtokUsd: 1 }, defaultMaxTokens: 0, timeoutMs: 1_000 } as unknown as Backend;

function request(spentMicros: number | undefined) {
  return { key, backend, spentMicros, promptTokensBound: 10, maxTokens: 0, signal: undefined };
}

describe("budget reservation", () => {
  test("side-call spend is reserved: two requests that each spent $0.60 do not both fit a $1 budget", () => {
    const limits = new Limits(() => 0);
    const first = admit(limits, request(600_000));
    expect(first).not.toBeInstanceOf(Promise);
    let denied: unknown;
    try {
      admit(limits, request(600_000));
    } catch (error) {
      denied = error;
    }
    expect(denied).toBeInstanceOf(GatewayError);
    expect((denied as GatewayError).code).toBe("budget_exceeded");
  });

  test("without side calls the same requests fit, and a settled reservation frees what it did not spend", () => {
    const limits = new Limits(() => 0);
    const first = admit(limits, request(undefined));
    const second = admit(limits, request(0));
    expect(first).not.toBeInstanceOf(Promise);
    expect(second).not.toBeInstanceOf(Promise);
    const spender = admit(limits, request(900_000));
    if (spender instanceof Promise) throw new Error("no queue expected");
    spender.finish(0, 100_000); // settled below its reservation: $0.90 back
    expect(() => admit(limits, request(800_000))).not.toThrow();
  });
});
