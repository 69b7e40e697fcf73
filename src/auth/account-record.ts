// What an account carries (the JSON contract of /v1/accounts): it owns keys, a prepaid credit balance, optional
// budgets, an allow-list of models and routing defaults for its keys. Money is integer micro-dollars inside,
// USD on the wire.
import { Type as T, type Static } from "@sinclair/typebox";
import { OPTIMIZE_MODES } from "./key-record.ts";

const NullableUsd = T.Union([T.Number({ minimum: 0 }), T.Null()]);
export const ACCOUNT_STATUSES = ["active", "deactivated"] as const;
export type AccountStatus = (typeof ACCOUNT_STATUSES)[number];

/** Fields an admin may set on create and PATCH. */
export const AccountSettings = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 200 }),
    status: T.Union(ACCOUNT_STATUSES.map((s) => T.Literal(s)), { description: "a deactivated account's keys get 403 account_inactive" }),
    budget_usd_daily: NullableUsd,
    budget_usd_monthly: NullableUsd,
    allowed_models: T.Union([T.Array(T.String({ minLength: 1 })), T.Null()], { description: "model names or globs its keys may use (on top of each key's own list); null = all" }),
    routing: T.Union([
      T.Object(
        {
          model_pool: T.Optional(T.Array(T.String())),
          optimize: T.Optional(T.Union(OPTIMIZE_MODES.map((m) => T.Literal(m)))),
        },
        { additionalProperties: false, description: "defaults for its keys that set no routing of their own" },
      ),
      T.Null(),
    ]),
  },
  { additionalProperties: false },
);
export type AccountSettings = Static<typeof AccountSettings>;

export const AccountCreateRequest = T.Composite(
  [T.Partial(AccountSettings), T.Object({ name: T.String({ minLength: 1, maxLength: 200 }), initial_credits_usd: T.Optional(T.Number({ minimum: 0, description: "a first deposit" })) })],
  { $id: "AccountCreateRequest", additionalProperties: false },
);
export const AccountUpdateRequest = T.Partial(AccountSettings, { $id: "AccountUpdateRequest", additionalProperties: false });

/** POST /v1/accounts/{id}/credits: a deposit (positive) or an adjustment (negative, or `kind: adjustment`). */
export const CreditRequest = T.Object(
  {
    amount_usd: T.Number({ description: "USD; negative takes credit away (never below what requests in flight hold)" }),
    note: T.Optional(T.String({ maxLength: 500 })),
    kind: T.Optional(T.Union([T.Literal("deposit"), T.Literal("adjustment")], { description: "default: deposit when positive, adjustment when negative" })),
  },
  { $id: "CreditRequest", additionalProperties: false },
);

export interface Account extends AccountSettings {
  id: string;
  created_at: number;
  deactivated_at: number | null;
}

export const DEFAULT_ACCOUNT: Omit<AccountSettings, "name"> = {
  status: "active",
  budget_usd_daily: null,
  budget_usd_monthly: null,
  allowed_models: null,
  routing: null,
};

export const AccountObject = T.Composite(
  [
    AccountSettings,
    T.Object({
      id: T.String(),
      object: T.Literal("account"),
      balance_usd: T.Number(),
      reserved_usd: T.Number({ description: "held by requests in flight" }),
      available_usd: T.Number({ description: "balance minus reserved: what the next request may reserve" }),
      created_at: T.Integer(),
      deactivated_at: T.Union([T.Integer(), T.Null()]),
    }),
  ],
  { $id: "Account" },
);

export const CreditBalance = T.Object(
  { object: T.Literal("credit_balance"), account_id: T.String(), balance_usd: T.Number(), reserved_usd: T.Number(), available_usd: T.Number() },
  { $id: "CreditBalance" },
);

export const CreditTransaction = T.Object(
  {
    id: T.String(),
    object: T.Literal("credit_transaction"),
    account_id: T.String(),
    kind: T.Union([T.Literal("deposit"), T.Literal("adjustment"), T.Literal("deduction")]),
    amount_usd: T.Number({ description: "signed: deductions are negative" }),
    balance_usd: T.Union([T.Number(), T.Null()], { description: "the balance after it (null on an hourly roll-up)" }),
    request_id: T.Union([T.String(), T.Null()]),
    key_id: T.Union([T.String(), T.Null()]),
    note: T.Union([T.String(), T.Null()]),
    requests: T.Optional(T.Integer({ description: "hourly roll-up: how many deductions it sums" })),
    created_at: T.Integer({ description: "unix seconds" }),
  },
  { $id: "CreditTransaction" },
);

export const newAccountId = (random: (length: number) => string) => `acct_${random(16)}`;
