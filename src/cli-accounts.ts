// `sluice accounts create|list|show|credit|deactivate|activate`: accounts and their credits on the same store the
// running gateway uses. A deposit written here is seen by the gateway at the next request (the balance is read
// from the file, never cached); settings changes after its cache notices the write (about a quarter second).
import type { Gateway } from "./gateway.ts";
import { publicAccount } from "./api/accounts.ts";

type Values = Record<string, string | boolean | undefined>;

export async function accountsCommand(gateway: Gateway, args: string[], values: Values, fail: (message: string) => never): Promise<void> {
  const [action, id] = args;
  const usd = (name: string, allowNegative: boolean): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (typeof text !== "string" || !Number.isFinite(value) || (!allowNegative && value < 0)) fail(`--${name}: expected ${allowNegative ? "an amount" : "an amount >= 0"} in USD, got '${text}'`);
    return value;
  };
  const account = () => {
    if (!id) fail(`accounts ${action}: give the account id (sluice accounts list shows them)`);
    const found = gateway.accounts.get(id);
    if (!found) fail(`accounts ${action}: no account with id '${id}'`);
    return found;
  };

  switch (action) {
    case "create": {
      if (typeof values.name !== "string" || !values.name) fail("accounts create: --name is required");
      const created = await gateway.accounts.create({
        name: values.name,
        budget_usd_daily: usd("budget-daily", false) ?? null,
        budget_usd_monthly: usd("budget-monthly", false) ?? null,
        allowed_models: typeof values.models === "string" ? values.models.split(",").map((m) => m.trim()) : null,
      });
      const credits = usd("credits", false);
      if (credits) {
        const deposit = gateway.credits.adjust(created.id, Math.round(credits * 1e6), "deposit", "initial credits");
        if ("transaction" in deposit) await deposit.transaction;
      }
      console.log(JSON.stringify(publicAccount(gateway, created), null, 2));
      return;
    }
    case "list":
      for (const a of await gateway.accounts.list()) {
        const { balance_usd } = publicAccount(gateway, a);
        console.log(`${a.id}  ${a.status.padEnd(11)}  $${balance_usd.toFixed(6).padStart(14)}  ${a.name}`);
      }
      return;
    case "show":
      console.log(JSON.stringify(publicAccount(gateway, account()), null, 2));
      return;
    case "credit": {
      const target = account();
      const amount = usd("amount", true);
      if (amount === undefined || Math.round(amount * 1e6) === 0) fail("accounts credit: --amount USD is required and not zero (negative takes credit away)");
      const micros = Math.round(amount * 1e6);
      const result = gateway.credits.adjust(target.id, micros, micros > 0 ? "deposit" : "adjustment", typeof values.note === "string" ? values.note : null);
      if ("refused" in result) fail(`accounts credit: ${result.refused}`);
      const transaction = await result.transaction;
      console.log(`${transaction.kind} of $${amount} to ${target.id}; balance now $${(transaction.balance_micros! / 1e6).toFixed(6)}`);
      return;
    }
    case "deactivate":
    case "activate": {
      const target = account();
      await gateway.accounts.update(target.id, { status: action === "activate" ? "active" : "deactivated" });
      console.log(`${target.id} ${action}d`);
      return;
    }
    default:
      fail("accounts: expected create, list, show, credit, activate or deactivate");
  }
}
