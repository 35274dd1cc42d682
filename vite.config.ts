/**
 * Vite builds the browser side of Custody. Today that is the offline verifier:
 * shared/bundle as one ES module that runs in any modern browser with no Node
 * and no network (test/browser-verifier.test.ts loads it in real Chromium).
 * The renderer (React UI) joins this config when it lands.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  build: {
    outDir: 'dist/verifier',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    sourcemap: true,
    lib: {
      entry: 'shared/bundle/index.ts',
      formats: ['es'],
      fileName: () => 'custody-verifier.js',
    },
  },
});
