//! Registrations and call records.

mod common;

use common::*;
use switchyard_store::*;

#[test]
fn bindings_per_extension_expire_and_purge() {
    let (_d, s) = open();
    s.put_binding(&binding("acme", "1001", "sip:a@1", 100))
        .unwrap();
    s.put_binding(&binding("acme", "1001", "sip:a@2", 300))
        .unwrap();
    s.put_binding(&binding("acme-2", "1001", "sip:b@1", 300))
        .unwrap();
    // 1001 is a prefix of 10011: still another extension.
    s.put_binding(&binding("acme", "10011", "sip:c@1", 300))
        .unwrap();

    let contacts = |now| -> Vec<String> {
        s.bindings("acme", "1001", now)
            .unwrap()
            .into_iter()
            .map(|b| b.contact)
            .collect()
    };
    assert_eq!(contacts(50), ["sip:a@1", "sip:a@2"]);
    assert_eq!(contacts(100), ["sip:a@2"]);

    // A refresh replaces the binding of the same contact.
    let mut refreshed = binding("acme", "1001", "sip:a@1", 1000);
    refreshed.cseq = 2;
    s.put_binding(&refreshed).unwrap();
    assert_eq!(contacts(500), ["sip:a@1"]);
    assert_eq!(s.bindings("acme", "1001", 500).unwrap()[0].cseq, 2);

    assert_eq!(s.all_bindings().unwrap().len(), 4);
    assert_eq!(s.purge_expired(300).unwrap().len(), 3);
    assert_eq!(s.all_bindings().unwrap(), vec![refreshed]);
    assert_eq!(s.purge_expired(300).unwrap(), vec![]);

    s.remove_binding("acme", "1001", "sip:a@1").unwrap();
    assert!(s.all_bindings().unwrap().is_empty());

    s.put_binding(&binding("acme", "1001", "sip:a@1", 900))
        .unwrap();
    s.put_binding(&binding("acme", "1001", "sip:a@2", 900))
        .unwrap();
    s.put_binding(&binding("acme", "10011", "sip:c@1", 900))
        .unwrap();
    assert_eq!(s.remove_all_bindings("acme", "1001").unwrap(), 2);
    assert!(s.bindings("acme", "1001", 0).unwrap().is_empty());
    assert_eq!(s.bindings("acme", "10011", 0).unwrap().len(), 1);
}

#[test]
fn bindings_survive_a_clean_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.put_binding(&binding("acme", "1001", "sip:a@1", 900))
        .unwrap();
    s.close().unwrap();
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.bindings("acme", "1001", 0).unwrap().len(), 1);
}

fn ids(page: &CdrPage) -> Vec<&str> {
    page.rows.iter().map(|c| c.id.as_str()).collect()
}

#[test]
fn cdr_queries_filter_newest_first() {
    let (_d, s) = open();
    let mut a = cdr("acme", "a", 1000);
    a.agent = Some("1001".into());
    let mut b = cdr("acme", "b", 2000);
    b.caller = "+15550199".into();
    b.disposition = Disposition::NoAnswer;
    b.answer_ms = None;
    let mut c = cdr("acme", "c", 3000);
    c.dialled = "+15550100".into();
    c.agent = Some("1001".into());
    // Same start time as c: both kept, ordered by id.
    let d = cdr("acme", "d", 3000);
    for r in [&c, &a, &d, &b] {
        s.insert_cdr(r).unwrap();
    }
    s.insert_cdr(&cdr("other", "x", 1500)).unwrap();

    let q = |f: CdrFilter| s.query_cdrs("acme", &f).unwrap();
    assert_eq!(ids(&q(CdrFilter::default())), ["d", "c", "b", "a"]);
    assert_eq!(q(CdrFilter::default()).next, None);
    // from inclusive, to exclusive.
    let window = q(CdrFilter {
        from_ms: Some(2000),
        to_ms: Some(3000),
        ..Default::default()
    });
    assert_eq!(ids(&window), ["b"]);
    let from = q(CdrFilter {
        from_ms: Some(1001),
        ..Default::default()
    });
    assert_eq!(ids(&from), ["d", "c", "b"]);
    let number = q(CdrFilter {
        number: Some("+15550199".into()),
        ..Default::default()
    });
    assert_eq!(ids(&number), ["b"]);
    let dialled = q(CdrFilter {
        number: Some("+15550100".into()),
        ..Default::default()
    });
    assert_eq!(ids(&dialled), ["c"]);
    let agent = q(CdrFilter {
        agent: Some("1001".into()),
        ..Default::default()
    });
    assert_eq!(ids(&agent), ["c", "a"]);
    let disp = q(CdrFilter {
        disposition: Some(Disposition::Answered),
        to_ms: Some(3000),
        ..Default::default()
    });
    assert_eq!(ids(&disp), ["a"]);
    assert!(
        s.query_cdrs("nobody", &CdrFilter::default())
            .unwrap()
            .rows
            .is_empty()
    );
    assert!(matches!(
        s.query_cdrs("Bad", &CdrFilter::default()).unwrap_err(),
        StoreError::Invalid {
            field: "tenant",
            ..
        }
    ));
}

#[test]
fn cdr_paging_walks_every_row_once() {
    let (_d, s) = open();
    for i in 0..25u64 {
        let mut r = cdr("acme", &format!("r{i:02}"), 1000 + i / 2);
        if i % 3 == 0 {
            r.disposition = Disposition::Busy;
        }
        s.insert_cdr(&r).unwrap();
    }
    s.insert_cdr(&cdr("acme-2", "other", 1005)).unwrap();

    let walk = |filter: CdrFilter| {
        let mut seen = Vec::new();
        let mut f = filter;
        let mut pages = 0;
        loop {
            let page = s.query_cdrs("acme", &f).unwrap();
            assert!(page.rows.len() <= f.limit);
            pages += 1;
            seen.extend(page.rows.iter().map(|c| (c.start_ms, c.id.clone())));
            match page.next {
                Some(n) => f.after = Some(n),
                None => break,
            }
        }
        (seen, pages)
    };
    let (all, pages) = walk(CdrFilter {
        limit: 10,
        ..Default::default()
    });
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 25);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(all, sorted, "newest first, no repeats");

    // An exact multiple of the page size has no empty last page.
    let (_, pages) = walk(CdrFilter {
        limit: 5,
        ..Default::default()
    });
    assert_eq!(pages, 5);

    // Paging with a filter.
    let (busy, _) = walk(CdrFilter {
        limit: 3,
        disposition: Some(Disposition::Busy),
        ..Default::default()
    });
    assert_eq!(busy.len(), 9);

    assert!(matches!(
        s.query_cdrs(
            "acme",
            &CdrFilter {
                after: Some("garbage".into()),
                ..Default::default()
            }
        )
        .unwrap_err(),
        StoreError::Invalid { field: "after", .. }
    ));
}

#[test]
fn cdr_csv_has_a_header_and_quotes() {
    let mut r = cdr("acme", "a", 1000);
    r.caller_name = Some("Doe, \"JD\" John".into());
    r.tags = vec!["vip".into(), "billing".into()];
    r.caller = "+15550100".into();
    let mut evil = cdr("acme", "b", 2000);
    evil.caller_name = Some("=HYPERLINK(\"http://x\")".into());
    evil.answer_ms = None;
    let csv = cdrs_to_csv(&[r, evil]);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(lines[3], "");
    assert!(lines[0].starts_with("id,call_id,direction,caller,caller_name,callee,dialled,"));
    assert_eq!(
        lines[1],
        "a,call-a,internal,+15550100,\"Doe, \"\"JD\"\" John\",1002,1002,1000,2000,6000,4000,\
         answered,caller,200,,,vip;billing,,router,1,1002/200"
    );
    assert_eq!(
        lines[2],
        "b,call-b,internal,1001,\"'=HYPERLINK(\"\"http://x\"\")\",1002,1002,2000,,7000,,\
         answered,caller,200,,,,,router,1,1002/200"
    );
    assert_eq!(cdrs_to_csv(&[]).matches("\r\n").count(), 1);
}
