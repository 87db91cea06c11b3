//! The operator's plans: named bundles of features and limits that
//! tenants are put on. A tenant on a plan gets the plan's features and
//! limits, so changing the plan changes every tenant on it at once; a
//! tenant on no plan keeps the features and limits set on it by hand.

use serde::{Deserialize, Serialize};

use crate::keys::{validate_name, validate_text};
use crate::{
    Features, RateCard, Store, StoreError, Tenant, TenantQuota, TenantRepo, all_json, get_json,
};

/// One plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// 1–128 bytes, e.g. `business`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub features: Features,
    pub limits: TenantQuota,
    /// What its tenants' trunk minutes, numbers and extensions cost.
    #[serde(default)]
    pub rates: RateCard,
    /// A prepaid tenant on this plan whose balance ran out still takes
    /// calls from outside (its callers are not the ones who failed to
    /// pay); outbound trunk calls are refused either way.
    #[serde(default = "yes")]
    pub inbound_without_balance: bool,
    /// When a prepaid tenant's calls in progress have spent its balance,
    /// each gets this many seconds more before it is hung up.
    #[serde(default = "default_grace")]
    pub prepaid_grace_secs: u32,
    pub created_at_ms: u64,
}

/// 30 s: time to say goodbye, or for a top-up to land.
pub fn default_grace() -> u32 {
    30
}

fn yes() -> bool {
    true
}

/// What a tenant may use: its plan's features and limits, or its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Entitlements {
    /// The plan they come from (`None`: set on the tenant by hand).
    pub plan: Option<String>,
    pub features: Features,
    pub limits: TenantQuota,
    /// The plan's prices (none on no plan: nothing is charged).
    pub rates: RateCard,
    pub inbound_without_balance: bool,
    pub prepaid_grace_secs: u32,
}

pub trait PlanRepo {
    /// Create or replace a plan.
    fn put_plan(&self, plan: &Plan) -> Result<(), StoreError>;
    fn get_plan(&self, name: &str) -> Result<Option<Plan>, StoreError>;
    /// Every plan, by name.
    fn list_plans(&self) -> Result<Vec<Plan>, StoreError>;
    /// Remove a plan no tenant is on ([`StoreError::Conflict`] naming the
    /// tenants otherwise); whether it existed.
    fn delete_plan(&self, name: &str) -> Result<bool, StoreError>;
    /// The ids of the tenants on plan `name`.
    fn tenants_on_plan(&self, name: &str) -> Result<Vec<String>, StoreError>;
    /// What `tenant` may use. A plan that has gone missing (deleted
    /// between a check and a write) grants what the tenant has by hand,
    /// rather than stopping its calls.
    fn entitlements(&self, tenant: &Tenant) -> Result<Entitlements, StoreError>;
}

fn validate(plan: &Plan) -> Result<(), StoreError> {
    validate_name("name", &plan.name)?;
    validate_text("description", &plan.description, 1000)?;
    plan.rates.validate()
}

impl PlanRepo for Store {
    fn put_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        validate(plan)?;
        self.put_durable(&self.t().plans, plan.name.as_bytes().to_vec(), plan)
    }

    fn get_plan(&self, name: &str) -> Result<Option<Plan>, StoreError> {
        validate_name("name", name)?;
        get_json(&self.t().plans, name.as_bytes())
    }

    fn list_plans(&self) -> Result<Vec<Plan>, StoreError> {
        all_json(&self.t().plans)
    }

    fn delete_plan(&self, name: &str) -> Result<bool, StoreError> {
        validate_name("name", name)?;
        let on = self.tenants_on_plan(name)?;
        if !on.is_empty() {
            return Err(StoreError::Conflict(format!(
                "plan {name:?} is the plan of tenant(s) {}; move them to another plan first",
                on.join(", ")
            )));
        }
        self.delete_durable(&self.t().plans, name.as_bytes().to_vec())
    }

    fn tenants_on_plan(&self, name: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_tenants()?
            .into_iter()
            .filter(|t| t.plan.as_deref() == Some(name))
            .map(|t| t.id)
            .collect())
    }

    fn entitlements(&self, tenant: &Tenant) -> Result<Entitlements, StoreError> {
        if let Some(name) = &tenant.plan
            && let Some(plan) = self.get_plan(name)?
        {
            return Ok(Entitlements {
                plan: Some(plan.name),
                features: plan.features,
                limits: plan.limits,
                rates: plan.rates,
                inbound_without_balance: plan.inbound_without_balance,
                prepaid_grace_secs: plan.prepaid_grace_secs,
            });
        }
        Ok(Entitlements {
            plan: None,
            features: tenant.features.clone(),
            limits: tenant.limits.clone(),
            rates: RateCard::default(),
            inbound_without_balance: true,
            prepaid_grace_secs: default_grace(),
        })
    }
}
