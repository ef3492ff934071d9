import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The desktop shell loads ui/dist (see tauri.conf.json); `npm run dev` serves the same app
// on http://localhost:5173 for `cargo run -p switchyard-app` without custom-protocol.
export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
    setupFiles: ["src/test-setup.ts"],
  },
});
