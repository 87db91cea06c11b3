//! "Who is calling?" — answered by the tenant's active `crm-connector`.

use crate::Contact;
use crate::bindings::switchyard::plugin::contacts as host;

/// The tenant CRM's contact for `number`; none when the tenant has no
/// connector, the CRM knows nobody, or the connector failed.
pub fn lookup(number: &str) -> Option<Contact> {
    host::lookup(number)
}
