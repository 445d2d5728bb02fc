//! The HarnessGym desktop app: a Tauri 2 window over `harnessgym_api`. One command (`api`)
//! hands each request to the API; API events are forwarded as `harnessgym://event`. The open
//! workspaces are remembered next to the index. No logic of its own lives here.
//!
//! Usage: `harnessgym-desktop [--db PATH] [WS…]`

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use harnessgym_api::{Api, ApiError, ApiOptions, Request};
use harnessgym_index::{default_db_path, WatchOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tauri::menu::{MenuBuilder, MenuItemBuilder, SubmenuBuilder};
use tauri::Emitter;

#[tauri::command]
async fn api(
    state: tauri::State<'_, Arc<Api>>,
    request: Request,
) -> Result<tauri::ipc::Response, ApiError> {
    state.handle(request).map(tauri::ipc::Response::new)
}

fn options() -> Result<ApiOptions, String> {
    let mut db = None;
    let mut workspaces = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--db" {
            db = Some(PathBuf::from(args.next().ok_or("--db needs a path")?));
        } else {
            workspaces.push(PathBuf::from(a));
        }
    }
    let db = match db {
        Some(p) => p,
        None => default_db_path().map_err(|e| e.to_string())?,
    };
    let state_file = db.with_file_name("workspaces.json");
    Ok(ApiOptions {
        db,
        state_file: Some(state_file),
        workspaces,
        shell: "desktop".into(),
        watch: WatchOptions::default(),
    })
}

fn main() {
    let backend = match options().and_then(|o| Api::open(o).map_err(|e| e.to_string())) {
        Ok(backend) => Arc::new(backend),
        Err(e) => {
            eprintln!("harnessgym-desktop: {e}");
            std::process::exit(1);
        }
    };
    let events = backend.subscribe();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(backend)
        .setup(move |app| {
            let handle = app.handle().clone();
            std::thread::spawn(move || {
                while let Ok(ev) = events.next(Duration::from_secs(3600)) {
                    if let Some(ev) = ev {
                        let _ = handle.emit("harnessgym://event", ev);
                    }
                }
            });
            // File → Open Workspace…: the UI runs the picker (it owns the workspace list view).
            let open = MenuItemBuilder::with_id("open-workspace", "Open Workspace…")
                .accelerator("CmdOrCtrl+O")
                .build(app)?;
            let file = SubmenuBuilder::new(app, "File")
                .item(&open)
                .separator()
                .quit()
                .build()?;
            app.set_menu(MenuBuilder::new(app).item(&file).build()?)?;
            app.on_menu_event(|app, event| {
                let _ = app.emit("harnessgym://menu", event.id().as_ref());
            });
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![api])
        .run(tauri::generate_context!())
        .unwrap_or_else(|e| {
            eprintln!("harnessgym-desktop: {e}");
            std::process::exit(1);
        });
}
