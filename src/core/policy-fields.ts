import type { PolicyInput } from "./alert-policy-input.ts";
import type { AlertPolicy } from "./alert-policy.ts";

/** A stored policy as the fields an admin sets (what a PATCH is merged onto). */
export function policyFieldsOf(policy: AlertPolicy): PolicyInput {
  const { id: _id, orgId: _orgId, createdAt: _c, updatedAt: _u, ...fields } = policy;
  return fields;
}
