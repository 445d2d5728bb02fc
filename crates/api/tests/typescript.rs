//! The UI's TypeScript types are generated from the Rust API types. This test fails when the
//! committed `ui/src/lib/api-types.ts` is stale; `UPDATE_TS=1 cargo test -p harnessgym_api --test
//! typescript` rewrites it.

use harnessgym_api::*;
use harnessgym_index::{
    ByteStats, CallRow, CallStats, CallStatsGroup, ChangeAction, ChangeEvent, ChangeKind,
    CompareTrialRow, DurationStats, ErrorRow, IndexReport, IterationRow, PhaseFileRow, PhaseRow,
    Progress, RunRow, SearchHit, SearchResult, WorkspaceRow,
};
use ts_rs::{Config, TS};

macro_rules! decls {
    ($cfg:expr; $($t:ty),* $(,)?) => {{
        let mut out = String::new();
        $(
            if let Some(doc) = <$t as TS>::docs() {
                out.push_str(&doc);
            }
            out.push_str("export ");
            out.push_str(&<$t as TS>::decl($cfg));
            out.push_str("\n\n");
        )*
        out
    }};
}

#[test]
fn typescript_types_are_current() {
    let cfg = Config::new().with_large_int("number");
    let body = decls!(&cfg;
        Request, Scope, RunsQuery, TextQuery, Info, WorkspaceInfo, RunDetail, IterationDetail,
        FileEntry, TextWindow, ApiEvent, ApiErrorBody,
        WorkspaceRow, RunRow, PhaseRow, PhaseFileRow, IterationRow, CallRow, CompareTrialRow,
        ErrorRow, DurationStats, ByteStats, CallStatsGroup, CallStats, SearchHit, SearchResult,
        IndexReport, Progress, ChangeKind, ChangeAction, ChangeEvent,
    );
    let text = format!(
        "// Generated from the Rust API types (crates/api, crates/index) by\n\
         // `UPDATE_TS=1 cargo test -p harnessgym_api --test typescript`. Do not edit.\n\n\
         export type JsonValue = number | string | boolean | Array<JsonValue> | {{ [key in string]?: JsonValue }} | null;\n\n{}",
        body.trim_end().to_string() + "\n"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/src/lib/api-types.ts");
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if std::env::var_os("UPDATE_TS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(path).parent().unwrap()).unwrap();
        std::fs::write(path, &text).unwrap();
    } else {
        assert!(
            current == text,
            "ui/src/lib/api-types.ts is stale: run UPDATE_TS=1 cargo test -p harnessgym_api --test typescript"
        );
    }
}
