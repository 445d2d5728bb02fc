/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The UI is served from `ui/`; `npm run build` writes `ui/dist`, which both shells embed
// (src-tauri via tauri.conf.json, `harnessgym view` via crates/cli/build.rs).
export default defineConfig({
  root: "ui",
  base: "./",
  plugins: [svelte()],
  clearScreen: false,
  // `npm run dev` talks to a `harnessgym view` on its default port.
  server: { port: 5173, strictPort: true, proxy: { "/api": "http://127.0.0.1:4747" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 2000 },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
