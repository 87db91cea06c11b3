//! Notices about the tenant's account, for reporters exported with
//! [`crate::export_billing_reporter!`] (world `billing-reporter`, 0.2.2).
//!
//! Amounts arrive as decimal text (`"0.9"`) because money is decimal: parse
//! them with a decimal type if you compute with them, or pass them on as
//! they are.
//!
//! ```no_run
//! use switchyard_sdk::account::{AccountNotice, AccountNoticeKind};
//! use switchyard_sdk::{BillingReporter, CallRecord, Notice, Reporter, mail};
//!
//! pub struct LowBalanceAlert;
//!
//! impl Reporter for LowBalanceAlert {
//!     fn on_call_record(_: CallRecord) -> Result<(), String> { Ok(()) }
//!     fn on_notice(_: Notice) -> Result<(), String> { Ok(()) }
//! }
//!
//! impl BillingReporter for LowBalanceAlert {
//!     fn on_account_notice(n: AccountNotice) -> Result<(), String> {
//!         match n.kind {
//!             AccountNoticeKind::LowBalance => mail::send(
//!                 &["finance@example.com"],
//!                 "Prepaid balance low",
//!                 &format!("{} {} left (threshold {})", n.balance, n.currency, n.threshold),
//!             )
//!             .map_err(|e| format!("{e:?}")),
//!         }
//!     }
//! }
//!
//! switchyard_sdk::export_billing_reporter!(LowBalanceAlert);
//! ```

pub use crate::bindings::switchyard::plugin::account_types::{AccountNotice, AccountNoticeKind};
