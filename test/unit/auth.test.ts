import { describe, expect, test } from "bun:test";
import { compileIpList, isCidr, modelAllowed, hasScope, type Principal } from "../../src/auth/authenticate.ts";
import { KeyStore } from "../../src/auth/key-store.ts";
import { openDatabase } from "../../src/store/database.ts";
import { hashSecret, KEY_PATTERN, newSecret, randomBase62 } from "../../src/auth/key-record.ts";

const principal = (settings: Partial<{ scopes: string[]; allowed_models: string[] | null }>): Principal =>
  ({ key: { scopes: ["chat"], allowed_models: null, prefix: "inf_test", ...settings } }) as unknown as Principal;

describe("keys", () => {
  test("secrets are inf_ + 40 base62 characters from the CSPRNG", () => {
    const secrets = new Set(Array.from({ length: 200 }, newSecret));
    expect(secrets.size).toBe(200);
    for (const secret of secrets) expect(secret).toMatch(KEY_PATTERN);
    expect(newSecret()).toHaveLength(44);
    // every base62 character turns up: the alphabet is used whole
    expect(new Set(randomBase62(5000)).size).toBe(62);
  });

  test("the store keeps only the hash and finds the key by its secret", () => {
    const db = openDatabase(":memory:");
    const store = new KeyStore(db);
    const { key, secret } = store.create({ name: "t", rpm: 5 });
    const row = db.query("SELECT * FROM api_keys").get() as Record<string, unknown>;
    expect(Object.values(row)).not.toContain(secret);
    expect(row.hash).toBe(hashSecret(secret));
    expect(store.findBySecret(secret)?.id).toBe(key.id);
    expect(store.findBySecret(secret + "x")).toBeUndefined();
    expect(store.update(key.id, { rpm: 9 })?.rpm).toBe(9);
    expect(store.findBySecret(secret)?.rpm).toBe(9);
    expect(store.revoke(key.id)?.revoked_at).toBeGreaterThan(0);
    expect(store.findBySecret(secret)?.revoked_at).toBeGreaterThan(0);
    expect(store.revoke("key_missing")).toBeUndefined();
  });
});

describe("allow-lists", () => {
  test("model globs", () => {
    const p = principal({ allowed_models: ["public:*", "Qwen/*", "exact"] });
    expect(modelAllowed(p, "public:deepseek")).toBe(true);
    expect(modelAllowed(p, "Qwen/Qwen3-14B")).toBe(true);
    expect(modelAllowed(p, "exact")).toBe(true);
    expect(modelAllowed(p, "exactly")).toBe(false);
    expect(modelAllowed(p, "private:x")).toBe(false);
    expect(modelAllowed(principal({ allowed_models: ["a.b"] }), "aXb")).toBe(false); // dots are literal
    expect(modelAllowed(principal({ allowed_models: null }), "anything")).toBe(true);
  });

  test("CIDRs, IPv4 and IPv6, including IPv4-mapped addresses", () => {
    const list = compileIpList(["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]);
    expect(list.check("10.200.0.1", "ipv4")).toBe(true);
    expect(list.check("11.0.0.1", "ipv4")).toBe(false);
    expect(list.check("192.168.1.7", "ipv4")).toBe(true);
    expect(list.check("192.168.1.8", "ipv4")).toBe(false);
    expect(list.check("2001:db8:1::5", "ipv6")).toBe(true);
    expect(list.check("::ffff:10.1.2.3", "ipv6")).toBe(true);
    for (const good of ["10.0.0.0/8", "::1", "2001:db8::/32", "127.0.0.1"]) expect(isCidr(good)).toBe(true);
    for (const bad of ["10.0.0.0/33", "nope", "10.0.0.0/8/1", "::1/129", "10.0.0/8", "1.2.3.4/x"]) expect(isCidr(bad)).toBe(false);
  });

  test("admin holds every scope", () => {
    expect(hasScope(principal({ scopes: ["admin"] }), "usage")).toBe(true);
    expect(hasScope(principal({ scopes: ["chat"] }), "usage")).toBe(false);
  });
});
