// Issue 15 item 16: credentials in backend URLs are never shown (sluice check, logs, clients).
import { describe, expect, test } from "bun:test";
import { maskUrl } from "../../src/config/mask-url.ts";
import { ConfigError, parseConfig } from "../../src/config/load.ts";
import { fetchFailure } from "../../src/upstream/client.ts";

describe("maskUrl", () => {
  test("hides userinfo and every query value, keeps scheme, host, port, path and query names", () => {
    expect(maskUrl("http://user:pass@10.0.0.5:8000/v1?api_key=sk-123&region=eu")).toBe("http://***:***@10.0.0.5:8000/v1?api_key=***&region=***");
    expect(maskUrl("https://token@api.example.com/v1")).toBe("https://***@api.example.com/v1");
    expect(maskUrl("postgres://sluice:secret@db:5432/vectors")).toBe("postgres://***:***@db:5432/vectors");
  });

  test("a URL without secrets is shown as written", () => {
    expect(maskUrl("http://127.0.0.1:8000/v1")).toBe("http://127.0.0.1:8000/v1");
    expect(maskUrl("ftp://nope")).toBe("ftp://nope");
  });

  test("text that is not a URL is masked too", () => {
    const masked = maskUrl("htp//admin:hunter2@host/v1?key=sk-live");
    expect(masked).not.toContain("hunter2");
    expect(masked).not.toContain("sk-live");
  });
});

describe("where URLs are shown", () => {
  test("sluice check's problems never contain the credentials of a bad URL", () => {
    const yaml = "backends:\n  - name: a\n    url: 'ftp://admin:hunter2@host/v1?api_key=sk-live'\n";
    let message = "";
    try {
      parseConfig(yaml, "t.yaml", {});
    } catch (error) {
      message = (error as ConfigError).message;
    }
    expect(message).toContain("backends[0].url");
    expect(message).not.toContain("hunter2");
    expect(message).not.toContain("sk-live");
  });

  test("a client's 502 names the backend, never its URL", () => {
    const snapshot = parseConfig("auth: {mode: none}\nbackends:\n  - name: secret-engine\n    url: 'http://admin:hunter2@10.1.2.3:8000/v1?api_key=sk-live'\n", "t.yaml", {});
    const backend = snapshot.backends.get("secret-engine")!;
    const error = fetchFailure(backend, { reason: undefined } as never, Object.assign(new TypeError("ECONNREFUSED: Unable to connect"), { code: "ECONNREFUSED" }));
    expect(error.message).toContain("secret-engine");
    expect(error.message).toContain("ECONNREFUSED");
    for (const secret of ["hunter2", "sk-live", "10.1.2.3", "admin"]) expect(error.message).not.toContain(secret);
  });
});

test("the dashboard's effective config masks URL user names, passwords and query values too", async () => {
  const { mask } = await import("../../src/api/dashboard-config.ts");
  const shown = JSON.stringify(mask({ backends: [{ name: "a", url: "http://ops:hunter2@10.0.0.5:8000/v1?api_key=zz-secret" }], note: "a=b not a url" }, false));
  expect(shown).not.toContain("hunter2");
  expect(shown).not.toContain("ops:");
  expect(shown).not.toContain("zz-secret");
  expect(shown).toContain("10.0.0.5:8000/v1?api_key=");
  expect(shown).toContain("a=b not a url");
});
