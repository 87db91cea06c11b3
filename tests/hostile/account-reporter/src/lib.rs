//! A reporter built with `export_billing_reporter!`: it exports
//! `account-events` beside `reporting`, so the host tells it account
//! notices. It keeps in kv what it hears, for tests to read back:
//! * `account-notice`: the last account notice, as
//!   `<kind> balance=<b> threshold=<t> currency=<c> at=<ms>`;
//! * `account-notices`: how many it heard (a counter);
//! * `call-records`: how many call records it heard (a counter), to show
//!   it is a reporter like any other.
//!
//! With the setting `fail` = text, it answers every account notice with
//! `err(text)` (after counting it), so a test sees how a failing one is
//! reported.

use switchyard_sdk::account::{AccountNotice, AccountNoticeKind};
use switchyard_sdk::{BillingReporter, CallRecord, Notice, Reporter, config, kv};

pub struct AccountReporter;

fn kv_err(e: kv::Error) -> String {
    format!("kv: {e:?}")
}

/// How the notice is kept in kv.
pub fn describe(n: &AccountNotice) -> String {
    let kind = match n.kind {
        AccountNoticeKind::LowBalance => "low-balance",
    };
    format!(
        "{kind} balance={} threshold={} currency={} at={}",
        n.balance, n.threshold, n.currency, n.at
    )
}

impl Reporter for AccountReporter {
    fn on_call_record(_: CallRecord) -> Result<(), String> {
        kv::increment("call-records", 1).map(drop).map_err(kv_err)
    }

    fn on_notice(_: Notice) -> Result<(), String> {
        Ok(())
    }
}

impl BillingReporter for AccountReporter {
    fn on_account_notice(notice: AccountNotice) -> Result<(), String> {
        kv::set("account-notice", describe(&notice).as_bytes()).map_err(kv_err)?;
        kv::increment("account-notices", 1).map_err(kv_err)?;
        match config::get("fail") {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }
}

switchyard_sdk::export_billing_reporter!(AccountReporter);
